"""The source registry: where every public file comes from, and its sha256.

Each importer module in :mod:`snnvis.recordings.importers` defines a :class:`Source`.
The checksums are kept in ``sources/<name>.json`` (relative path -> sha256). Files are
read from a local mirror (``--mirror DIR`` or ``$SNNVIS_DATA_MIRROR``:
``<mirror>/<source>/<relpath>``, the layout of the public repositories) or fetched from
their public URL by `pooch <https://www.fatiando.org/pooch>`_ into the cache
``$SNNVIS_CACHE/downloads/<source>/<relpath>`` (default ``pooch.os_cache("snnvis")``,
``~/.cache/snnvis`` on Linux), where a file with the right sha256 is not fetched again;
either way the sha256 is verified. A file that is not in the registry (another session
of the same study, say) is accepted from a mirror with a warning, and its computed sha256
is recorded.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from snnvis.errors import UserError
from snnvis.utils import sha256_file

MIRROR_ENV = "SNNVIS_DATA_MIRROR"
CACHE_ENV = "SNNVIS_CACHE"


@dataclass(frozen=True)
class Source:
    """A public dataset: metadata plus base URLs by relative-path prefix."""

    name: str
    title: str
    citation: str
    license: str
    species: str
    urls: dict[str, str]  # relpath prefix -> base URL (longest prefix wins)
    description: str = ""

    @property
    def checksums(self) -> dict[str, str]:
        text = resources.files("snnvis.recordings").joinpath(f"sources/{self.name}.json").read_text()
        return json.loads(text)

    def url(self, relpath: str) -> str:
        prefix = max((p for p in self.urls if relpath.startswith(p)), key=len, default=None)
        if prefix is None:
            raise UserError(f"source {self.name}", f"no public URL known for {relpath!r}")
        rest = relpath[len(prefix) :].lstrip("/")
        # a prefix equal to the whole relpath maps one file to its own URL (a renamed file)
        return self.urls[prefix] if not rest else self.urls[prefix].rstrip("/") + "/" + rest


class UnregisteredFileWarning(UserWarning):
    """A file read from a mirror that the registry has no checksum for."""


@dataclass
class FileStore:
    """Resolves a source's files from a mirror or the network, verifying checksums.

    ``provenance`` collects (relpath, url, sha256) for every file handed out, and
    ``unregistered`` the files whose checksum had to be computed instead of checked.
    """

    source: Source
    mirror: Path | None = None
    cache: Path | None = None
    provenance: list[tuple[str, str, str]] = field(default_factory=list)
    unregistered: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.mirror is None and os.environ.get(MIRROR_ENV):
            self.mirror = Path(os.environ[MIRROR_ENV])
        if self.mirror is not None:
            self.mirror = Path(self.mirror)
            if not self.mirror.is_dir():
                raise UserError("mirror", "directory does not exist", self.mirror)
        if self.cache is None:
            self.cache = cache_dir() / "downloads"
        self._checksums = self.source.checksums
        self._pooch = None

    @property
    def root(self) -> Path | None:
        return None if self.mirror is None else self.mirror / self.source.name

    def list(self, pattern: str = "*") -> list[str]:
        """Relative paths matching a glob pattern: the mirror's files, else the registry's."""
        if self.root is not None:
            if not self.root.is_dir():
                raise UserError(f"source {self.source.name}", f"not found in mirror {self.mirror}", self.root)
            found = (str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())
        else:
            found = iter(self._checksums)
        return sorted(p for p in found if fnmatch.fnmatchcase(p, pattern))

    def exists(self, relpath: str) -> bool:
        if self.root is not None:
            return (self.root / relpath).is_file()
        return relpath in self._checksums

    def path(self, relpath: str) -> Path:
        """A verified local path for ``relpath``."""
        expected = self._checksums.get(relpath)
        if self.root is not None:
            local = self.root / relpath
            if not local.is_file():
                raise UserError(f"file {relpath!r} of source {self.source.name}", "not found in mirror", self.root)
        else:
            if expected is None:
                raise UserError(
                    f"file {relpath!r}",
                    f"not in the registry of source {self.source.name}; "
                    "unregistered files can only be imported from a mirror (--mirror DIR)",
                )
            local = self._download(relpath, expected)
        digest = sha256_file(local) if self.root is not None else expected  # pooch checked a download
        if expected is None:
            warnings.warn(
                f"{self.source.name}/{relpath} is not in the registry; recording its sha256 {digest[:12]}…",
                UnregisteredFileWarning,
                stacklevel=2,
            )
            self.unregistered.append(relpath)
        elif digest != expected:
            raise UserError("checksum mismatch", f"sha256 {digest[:16]}… expected {expected[:16]}…", local)
        try:
            url = self.source.url(relpath)
        except UserError:
            url = ""
        if relpath not in self.digests:
            self.provenance.append((relpath, url, digest))
        self.digests[relpath] = digest
        return local

    def _download(self, relpath: str, expected: str) -> Path:
        """``relpath`` in the cache, fetched by pooch unless a copy with the sha256 is there."""
        import pooch
        import requests

        if self._pooch is None:
            self._pooch = pooch.create(
                path=self.cache / self.source.name,
                base_url="",
                registry={k: f"sha256:{v}" for k, v in self._checksums.items()},
                retry_if_failed=1,
            )
            pooch.get_logger().setLevel("WARNING")  # an error stays one line; a terminal shows the bar
        url = self._pooch.urls[relpath] = self.source.url(relpath)
        bar = sys.stderr.isatty()
        try:
            return Path(self._pooch.fetch(relpath, downloader=pooch.HTTPDownloader(progressbar=bar, timeout=30)))
        except ValueError as err:  # pooch: the downloaded file's hash is not the registry's
            raise UserError(
                "checksum mismatch",
                f"{url} does not have the registered sha256 {expected[:16]}… ({' '.join(str(err).split())[:160]})",
                self.cache / self.source.name / relpath,
            ) from None
        except (requests.exceptions.RequestException, OSError) as err:
            raise UserError(
                f"source {self.source.name}",
                f"cannot download {url} ({type(err).__name__}: {' '.join(str(err).split())[:160]}); "
                f"pass --mirror DIR or set {MIRROR_ENV}",
            ) from None


def cache_dir() -> Path:
    """snnvis's cache: ``$SNNVIS_CACHE``, else ``pooch.os_cache("snnvis")``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    import pooch

    return Path(pooch.os_cache("snnvis"))
