"""``snnvis-data``: list sources, import recordings, inspect them, make synthetic data."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from snnvis.errors import UserError, cli_entry


def _option_lines(mod, indent: str) -> list[str]:
    """One ``-o`` line per option the importer declares (name, type, default, help)."""
    from snnvis.recordings.options import declared

    return [f"{indent}-o {o.describe()}" for o in declared(mod)]


def _list(args) -> int:
    from snnvis.recordings import importers

    for name, mod in importers.available().items():
        src = mod.SOURCE
        print(f"{name:24s} {src.species:22s} {len(src.checksums):4d} files  {src.title}")
        if args.verbose:
            print(f"{'':24s} {src.citation}\n{'':24s} license: {src.license}")
        for line in _option_lines(mod, " " * 25):
            print(line)
    return 0


class _ImportHelp(argparse.Action):
    """``import [SOURCE] --help``: the usual help, then the ``-o`` options of SOURCE (or of every source)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from snnvis.recordings import importers

        parser.print_help()
        mods = importers.available()
        name = getattr(namespace, "source", None)
        chosen = {name: mods[name]} if name in mods else mods
        print("\nimporter options (-o KEY=VALUE):")
        for src, mod in chosen.items():
            print(f"  {src}:")
            print("\n".join(_option_lines(mod, "    ") or ["    (none)"]))
        parser.exit()


def _check_out_dir(path: str) -> None:
    """An output folder must be a folder (or not exist yet), with no regular file on its way."""
    p = Path(path)
    for parent in [p, *p.parents]:
        if parent.exists():
            if not parent.is_dir():
                why = "is a regular file, not a folder" if parent == p else f"{parent} is a regular file, not a folder"
                raise UserError("output folder", why, p)
            return


def _check_out_file(path: str) -> None:
    """An output file must not be a folder, and must not sit under a regular file."""
    p = Path(path)
    if p.is_dir():
        raise UserError("output file", "is a directory; give a file name such as synth.h5", p)
    _check_out_dir(str(p.parent))


def _import(args) -> int:
    from tqdm import tqdm

    from snnvis.recordings.importing import import_source

    bad = [kv for kv in args.option if "=" not in kv or not kv.split("=", 1)[0]]
    if bad:
        raise UserError(f"option {bad[0]!r}", "must be KEY=VALUE, e.g. -o bin_ms=25")
    options = dict(kv.split("=", 1) for kv in args.option)
    _check_out_dir(args.out)
    if args.source == "nwb":
        return _import_nwb(args, options)
    if args.path is not None or args.stimuli is not None:
        raise UserError(f"source {args.source}", "takes no PATH or --stimuli (only source nwb does)")
    bar = (lambda it: tqdm(it, desc=f"import {args.source}", unit="session")) if sys.stderr.isatty() else None
    paths = import_source(
        args.source, mirror=args.mirror, out=args.out, only=args.only, force=args.force, progress=bar, **options
    )
    for p in paths:
        print(p)
    return 0


def _import_nwb(args, options: dict) -> int:
    from snnvis.recordings.importers.nwb import import_nwb

    if args.path is None or args.stimuli is None:
        raise UserError(
            "import nwb", "needs the NWB file and the image folder: snnvis-data import nwb PATH --stimuli DIR"
        )
    print(import_nwb(args.path, args.stimuli, out=args.out, **options))
    return 0


def _info(args) -> int:
    from snnvis.recordings.leakage import lookup_baseline
    from snnvis.recordings.recording import Recording

    rec = Recording(args.path)
    info = rec.summary()
    lookup = lookup_baseline(rec)
    info["lookup_r_median"] = None if lookup is None else lookup["r_median"]
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['id']}  ({info['source']}, {info['species']}, areas: {', '.join(info['areas']) or '-'})")
    shape = "x".join(map(str, info["image_shape"])) if info["image_shape"] else "no images"
    print(f"  stimuli   {info['n_stimuli']} x {info['n_frames']} frame(s), {shape}")
    print(f"  neurons   {info['n_neurons']}")
    for name, r in info["responses"].items():
        star = "*" if name == info["default_response"] else " "
        print(
            f"  response{star} {name}: {r['n_bins']} bin(s), {r['n_repeats']} repeats, {r['units']}, "
            f"aligned to {r['align']}{' (frame average)' if r['frame_average'] else ''}"
        )
    for name in info["reference_rdms"]:
        print(f"  RDM       {name}")
    print("  splits    " + ", ".join(f"{k} {v}" for k, v in info["splits"].items()))
    if info["held_out_kind"]:
        others = sorted({k for c in info["kinds"].values() for k in c} - {info["held_out_kind"]})
        print(f"  held out  {info['held_out_kind']!r} stimuli only ({', '.join(map(repr, others))}: train)")
    pr = info["protocol"]
    ms = lambda v: "?" if v is None else f"{v:g}"  # noqa: E731
    print(
        f"  protocol  {pr['mode']}, {ms(pr['on_ms'])} ms on, {ms(pr['off_ms'])} ms off"
        + (f", {pr['n_presentations']} presentations in recorded order" if pr["n_presentations"] else "")
    )
    if lookup is not None:
        print(
            f"  lookup    median r {lookup['r_median']:.3f} on test (each test stimulus predicted by its most "
            "pixel-similar train stimulus; high means leakage)"
        )
    print(f"  citation  {info['citation']}")
    return 0


def _synth(args) -> int:
    from snnvis.recordings.format import write_recording
    from snnvis.recordings.synthetic import SynthConfig, generate_recording

    _check_out_file(args.out)
    if args.movie:
        from snnvis.recordings.synthetic_movie import MovieConfig, generate_movie_recording

        given = [flag for flag, v in (("--n-stimuli", args.n_stimuli), ("--n-frames", args.n_frames)) if v is not None]
        if given:
            raise UserError(f"option {given[0]}", "does not apply to --movie (use --n-clips and --clip-frames)")
        cfg = MovieConfig(
            n_clips=args.n_clips,
            clip_frames=args.clip_frames,
            scene_clips=args.scene_clips,
            n_neurons=args.n_neurons,
            n_repeats=args.n_repeats,
            size=args.size,
            seed=args.seed,
            frame_ms=args.frame_ms,
        )
        path = write_recording(args.out, generate_movie_recording(cfg))
        print(path)
        return 0
    cfg = SynthConfig(
        n_stimuli=300 if args.n_stimuli is None else args.n_stimuli,
        n_frames=1 if args.n_frames is None else args.n_frames,
        n_neurons=args.n_neurons,
        n_repeats=args.n_repeats,
        size=args.size,
        seed=args.seed,
    )
    path = write_recording(args.out, generate_recording(cfg))
    print(path)
    return 0


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option shows its default (unless it has none); descriptions and examples keep their lines."""

    def _get_help_string(self, action):
        if action.default is None or action.default == [] or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


DESCRIPTION = """\
snnvis-data: list the public sources, import recordings into the data root, inspect a
recording, or simulate one with known ground truth.

The data root is $SNNVIS_DATA when set, else the checkout's recordings/ (a source
checkout) or ./recordings; the presets of snnvis-train and snnvis-score read it as paths.data."""

EXAMPLES = """\
examples:
  snnvis-data import cowley2023_v4 --mirror ../shared/datasets --only 190927 210305
  snnvis-data info recordings/cowley2023_v4/210305.h5
  snnvis-data synth --out recordings/synthetic/synth.h5 --n-stimuli 600 --size 48"""


def build_parser() -> argparse.ArgumentParser:
    from snnvis.recordings.root import data_root

    root = str(data_root())
    p = argparse.ArgumentParser(prog="snnvis-data", description=DESCRIPTION, epilog=EXAMPLES, formatter_class=_Help)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def command(name: str, help: str, **kw) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_Help, **kw)

    s = command("list", "show the known public sources (with each importer's -o options)")
    s.add_argument("-v", "--verbose", action="store_true", help="also show each source's citation and license")
    s.set_defaults(fn=_list)
    s = command("import", "import a source into OUT/<source>/<id>.h5", add_help=False)
    s.add_argument("-h", "--help", action=_ImportHelp, help="show this help and the options of SOURCE, then exit")
    s.add_argument("source", metavar="SOURCE", help="a source named by snnvis-data list, or nwb for a user's NWB file")
    s.add_argument("path", nargs="?", metavar="PATH", help="for source nwb: the NWB file to import")
    s.add_argument("--stimuli", metavar="DIR", help="for source nwb: folder of the images named by the image ids")
    s.add_argument(
        "--mirror",
        metavar="DIR",
        help="local mirror folder holding <source>/... (default: $SNNVIS_DATA_MIRROR, "
        "else download from the public URLs)",
    )
    s.add_argument(
        "--out", metavar="DIR", default=root, help="output folder: the data root ($SNNVIS_DATA or paths.data)"
    )
    s.add_argument("--only", nargs="+", metavar="ID", help="import only these sessions (default: all)")
    s.add_argument("--force", action="store_true", help="rewrite files that are already up to date")
    s.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="importer option, e.g. -o bin_ms=25 for zhang_desimone_it (listed by --help and snnvis-data list)",
    )
    s.set_defaults(fn=_import)
    s = command("info", "summarise a recording file (stimuli, neurons, responses, splits, protocol)")
    s.add_argument("path", metavar="PATH", help="a recording file (.h5)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(fn=_info)
    s = command("synth", "simulate an LNP population with known ground truth (static images or one movie)")
    s.add_argument("--out", metavar="FILE", default=str(Path(root) / "synthetic" / "synth.h5"), help="output file")
    s.add_argument("--n-stimuli", type=int, default=None, help="number of stimuli (default: 300; not with --movie)")
    s.add_argument(
        "--n-frames",
        type=int,
        default=None,
        help="1 for static images, >1 for sequences (default: 1; not with --movie)",
    )
    s.add_argument("--n-neurons", type=int, default=40, help="simulated neurons")
    s.add_argument("--n-repeats", type=int, default=10, help="repeats (trials) per stimulus")
    s.add_argument("--size", type=int, default=32, help="image height and width in pixels")
    s.add_argument("--seed", type=int, default=0, help="seed of the population and the stimuli")
    m = s.add_argument_group(
        "continuous movie (--movie): LNP neurons with delayed biphasic kernels and "
        "adaptation watching one movie; ground truth in /ground_truth"
    )
    m.add_argument("--movie", action="store_true", help="simulate one continuous movie cut into clips")
    m.add_argument("--n-clips", type=int, default=30, help="clips (stimuli) of the movie")
    m.add_argument("--clip-frames", type=int, default=30, help="frames per clip")
    m.add_argument(
        "--scene-clips",
        type=int,
        default=3,
        help="clips per scene; a cut starts a new texture, and a scene is one split group",
    )
    m.add_argument(
        "--frame-ms", type=float, default=1000.0 / 30.0, help="duration of a frame in ms (default: %(default).1f)"
    )
    s.set_defaults(fn=_synth)
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.formatwarning = lambda msg, cat, *a, **k: f"snnvis: warning: {msg}\n"
    try:
        code = args.fn(args)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `snnvis-data info f | head -1`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code
