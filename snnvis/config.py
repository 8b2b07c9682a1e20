"""Composing the configs in ``snnvis/conf/`` and building objects from their ``_target_`` nodes.

:func:`compose` is the one way code and tests compose a config outside a ``@hydra.main``
app: it registers the typed schemas and the resolvers that the CLI apps register, so a
composed config is the one ``snnvis-train`` / ``snnvis-score`` would run. :func:`build`
is ``hydra.utils.instantiate`` whose failures (a ``_target_`` that does not exist, a bad
argument) are one :class:`~snnvis.errors.UserError` naming the config key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snnvis.errors import UserError

CONFIGS = Path(__file__).resolve().parent / "conf"


@dataclass
class ScoreSchema:
    """Types and keys of ``snnvis/conf/score.yaml`` (stored as ``schema/score``, merged under it): a
    wrong type (``n_boot=abc``) or an unknown key (``n_bot=3``) fails at composition. The
    defaults and their documentation are score.yaml's; ranges are checked when scoring."""

    model: Any = None  # a snnvis/conf/model entry (its own keys)
    checkpoint: str | None = None
    recordings: list[str] = field(default_factory=list)
    response: str | None = None
    bins: Any = "mean"  # mean | a bin index
    metrics: list[str] = field(default_factory=list)
    layers: list[str] | None = None
    kind: str = "spikes"
    projection_dim: int | None = None
    selection: str = "held_out"
    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0
    batch_size: int = 64
    device: str = "auto"
    max_memory_mb: float = 4096.0
    bn_calibration: Any = "auto"  # auto | true | false
    bn_calibration_stimuli: int = 256
    progress: Any = "auto"  # auto | true | false
    name: str = "score"
    paths: Any = None  # paths.data: the data root
    metric_options: Any = None  # per metric family: its own keys (see score.yaml)


def register() -> None:
    """The ConfigStore schemas and OmegaConf resolvers the configs rely on (idempotent)."""
    from hydra.core.config_store import ConfigStore

    from snnvis.training import rundir, schema, search

    schema.register()
    ConfigStore.instance().store(group=schema.SCHEMA_GROUP, name="score", node=ScoreSchema)
    rundir.register_resolvers()
    search.register_resolvers()  # the hparams_search group's study file and remaining trials


def compose(name: str | None, overrides: Sequence[str] = (), return_hydra_config: bool = False):
    """``snnvis/conf/<name>.yaml`` (``None``: only the groups named in ``overrides``) composed with
    ``overrides``, as the CLI apps compose it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register()
    if GlobalHydra.instance().is_initialized():  # e.g. inside a @hydra.main app, or left by another caller
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return hydra_compose(config_name=name, overrides=list(overrides), return_hydra_config=return_hydra_config)


def build(node: Any, key: str, *args: Any) -> Any:
    """``hydra.utils.instantiate(node)``, then called with ``args`` when the node is ``_partial_``
    (an optimizer gets its parameters, a scheduler its optimizer); a failure is a UserError about
    ``key``."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        obj = instantiate(node)
        return obj(*args) if args and node.get("_partial_", False) else obj
    except InstantiationException as err:
        raise instantiation_error(err, {key: node}) from None
    except (TypeError, ValueError) as err:  # raised by the target when the partial is called
        raise UserError(key, _first_line(err)) from None


def check_targets(cfg: Any, keys: Sequence[str]) -> None:
    """UserError for the first ``<key>._target_`` of ``cfg`` that cannot be imported (before any work)."""
    for key in keys:
        node = cfg.get(key) if hasattr(cfg, "get") else None
        target = _target(node) if node is not None else None
        if target is not None and not _importable(str(target)):
            raise UserError(f"{key}._target_", f"cannot import {target!r} (no such module or attribute)")


def _importable(path: str) -> bool:
    """Whether ``a.b.c`` names a module or an attribute of one (what ``_target_`` may name)."""
    import importlib

    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def instantiation_error(err: Exception, nodes: dict[str, Any], what: str | None = None) -> UserError:
    """One UserError for Hydra's InstantiationException while building one of ``nodes`` (key -> node).

    A ``_target_`` that cannot be imported is an error of ``<key>._target_``; an error raised by
    the target itself (a ValueError or TypeError for a bad value) keeps its own message, about
    ``what`` (default: the key).
    """
    text = str(err)
    key = next((k for k, n in nodes.items() if f"'{_target(n)}'" in text), next(iter(nodes)))
    cause = err.__cause__
    if isinstance(cause, UserError):  # the target's own one-line error (e.g. a weights file that does not fit)
        return cause
    if isinstance(cause, (ValueError, TypeError)) and "Error locating target" not in text:
        return UserError(what or key, _first_line(cause))
    return UserError(f"{key}._target_", f"cannot build {_target(nodes[key])!r}: {_first_line(err)}")


def _target(node: Any) -> Any:
    return node.get("_target_") if hasattr(node, "get") else None


def _first_line(err: BaseException) -> str:
    text = " ".join(str(err).strip().splitlines()[0].split()) if str(err).strip() else type(err).__name__
    return text.split(", set env var HYDRA_FULL_ERROR")[0].rstrip(".,")[:200]
