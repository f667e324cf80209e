"""The ``rltransfer`` command line: run | report | envs | methods | encoders | pretrain | probe.

Exit codes: 0 success; 1 a run failed (the others completed and were kept); 2 invalid input
(a message naming the file and field, never a traceback); 130 interrupted (re-run to resume);
141 the output pipe closed early (``rltransfer methods --json | head``), quietly.

Only the parsers live here; each command imports what it needs when it runs, so ``--help``,
``--version``, ``envs``, ``methods`` and ``report`` never import torch or stable-baselines3.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
from pathlib import Path

from rltransfer import __version__
from rltransfer.config.spec import DEVICES, WANDB_MODES, return_problem
from rltransfer.errors import RunFailedError, UserError
from rltransfer.paths import existing_dir

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED = 0, 1, 2, 130, 141


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep our prefix
        self.print_usage(sys.stderr)
        raise UserError(f"rltransfer: {message}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="rltransfer",
        description="Does what an agent learned on task A help on "
        "task B? Transfer vs scratch, with metrics, confidence intervals and verdicts.",
    )
    p.add_argument("--version", action="version", version=f"rltransfer {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a study (the built-in default study without a file)")
    run.add_argument("study", nargs="?", help="study YAML file (default: the built-in study)")
    run.add_argument("--out", default="runs", help="results root (default: runs/)")
    run.add_argument("--seeds", type=_positive_int, help="use seeds 0..N-1")
    run.add_argument("--workers", type=_positive_int, help="parallel runs (default: study's)")
    run.add_argument("--executor", help="executor kind: local (default) or ray")
    run.add_argument(
        "--ray-address", help="join a Ray cluster: 'auto' or HOST:PORT (default: start a local Ray)"
    )
    run.add_argument(
        "--wandb",
        choices=WANDB_MODES,
        help="W&B mode (default: the study's, offline)",
    )
    run.add_argument("--device", choices=DEVICES, help="torch device")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace runs in --out whose spec differs from this study's (default: stop with "
        "exit 2 and say what differs)",
    )

    rep = sub.add_parser("report", help="recompute summary, report and plot from curves alone")
    rep.add_argument("dir", help="a study folder holding target/<method>/seed_<k>/curve.csv")
    rep.add_argument("--threshold", type=float, help="override the study's threshold")

    envs = sub.add_parser("envs", help="list the testbed's environment families")
    envs.add_argument("--json", action="store_true", help="machine-readable output")

    methods = sub.add_parser("methods", help="list the available transfer methods")
    methods.add_argument("--json", action="store_true", help="print JSON (kinds, options)")

    add_vision_parsers(sub)
    return p


def add_vision_parsers(sub: argparse._SubParsersAction) -> None:
    """``encoders | pretrain | probe`` (run by ``rltransfer.tools.commands``, imported only when
    one of them runs: the vision package imports torch)."""
    enc = sub.add_parser("encoders", help="list the vision encoders, their groups and sizes")
    enc.add_argument("name", nargs="?", help="show one encoder")
    enc.add_argument("--taps", action="store_true", help="also list every tap point")
    enc.add_argument("--json", action="store_true", help="machine-readable output")

    pre = sub.add_parser("pretrain", help="self-supervised encoder pretraining on env frames")
    pre.add_argument("--env", action="append", required=True, help="env id or {id, kwargs}")
    pre.add_argument("--encoder", required=True, help="registry name (rltransfer encoders)")
    pre.add_argument("--out", required=True, help="weights file to write (.pt or .safetensors)")
    pre.add_argument("--weights", default="none", help="initial weights (default: none)")
    pre.add_argument("--encoder-kwargs", default="{}", help="encoder options, YAML/JSON")
    pre.add_argument("--frames", type=_positive_int, default=2000, help="frames to collect")
    pre.add_argument(
        "--agent", help="a study's result folder: its source agent acts (default: random)"
    )
    pre.add_argument("--steps", type=_positive_int, default=500, help="gradient steps")
    pre.add_argument("--batch-size", type=_positive_int, default=64)
    pre.add_argument("--lr", type=float, default=3e-4)
    pre.add_argument("--objectives", default="mae,atc", help="comma list of mae, atc")
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--device", default="cpu")

    pro = sub.add_parser("probe", help="linear probe of an encoder's layers on labelled images")
    pro.add_argument("--encoder", required=True)
    pro.add_argument("--weights", default="none", help="none | torchvision:ENUM | FILE | source")
    pro.add_argument("--source", help="the SB3 checkpoint (.zip) read by --weights source")
    pro.add_argument("--encoder-kwargs", default="{}", help="encoder options, YAML/JSON")
    src = pro.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="an ImageFolder: one sub-folder of images per class")
    src.add_argument("--env", help="env id or {id, kwargs}; labels from info[--label-key]")
    pro.add_argument("--label-key", default="cell", help="info key (or env attribute) to predict")
    pro.add_argument(
        "--frames", type=_positive_int, default=500, help="frames to collect from --env"
    )
    pro.add_argument("--size", type=_positive_int, default=64, help="image side for --images")
    pro.add_argument("--taps", default="", help="comma list (default: every layer group)")
    pro.add_argument("--norms", default="none,l2,standardize,discretize")
    pro.add_argument("--folds", type=int, default=5)
    pro.add_argument("--seed", type=int, default=0)
    pro.add_argument("--device", default="cpu")
    pro.add_argument("--json", action="store_true", help="print the rows as JSON")


def _cmd_run(args: argparse.Namespace) -> int:
    from rltransfer.study import run_study

    try:
        result = run_study(
            args.study,
            out=args.out,
            quiet=args.quiet,
            overwrite=args.overwrite,
            seeds=args.seeds,
            workers=args.workers,
            executor=args.executor,
            ray_address=args.ray_address,
            wandb=args.wandb,
            device=args.device,
        )
    except RunFailedError as e:
        result = e.args[0]
        _print_verdicts(result.summary, result.paths)
        print(
            f"{len(result.failed)} run(s) failed: {', '.join(result.failed)}. Re-run the same "
            "command to retry only those.",
            file=sys.stderr,
        )
        return EXIT_RUN_FAILED
    _print_verdicts(result.summary, result.paths)
    return EXIT_OK


def _print_verdicts(summary: dict, paths: dict[str, Path]) -> None:
    for name, m in summary.get("methods", {}).items():
        print(f"{name}: {m['verdict']} — {m['evidence']}")
    if "report" in paths:
        print(f"report: {paths['report']}")


def _cmd_report(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from rltransfer.reanalysis import AnalysisOptions, analyse_study_dir

    root = existing_dir(args.dir, "DIR")
    options = AnalysisOptions.from_folder(root)
    if args.threshold is not None:
        problem = return_problem(args.threshold)
        if problem:
            raise UserError(f"--threshold: {problem}")
        options = replace(options, threshold=args.threshold)
    summary, _, paths = analyse_study_dir(root, options)
    _print_verdicts(summary, paths)
    return EXIT_OK


def _cmd_envs(args: argparse.Namespace) -> int:
    from rltransfer.envs import list_families

    families = list_families()
    if args.json:
        print(json.dumps(families, indent=2))
        return EXIT_OK
    for f in families:
        params = ", ".join(f"{k}={v}" for k, v in f["params"].items())
        print(f"{f['id']}  [{f['observation']} → {f['action']}]  {f['description']}")
        print(f"    params: {params}")
    return EXIT_OK


def _cmd_methods(args: argparse.Namespace) -> int:
    from rltransfer.methods import CATALOG

    listing = {
        kind: {
            "transfers": entry.transfers,
            "description": entry.description,
            "options": entry.option_defaults(),
        }
        for kind, entry in sorted(CATALOG.items())
    }
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    width = max(map(len, listing))
    for kind, m in listing.items():
        print(f"{kind:{width}s}  transfers {m['transfers']}: {m['description']}")
        if m["options"]:
            opts = ", ".join(f"{k}={v}" for k, v in m["options"].items())
            print(f"{'':{width}s}  options: {opts}")
    return EXIT_OK


def _vision(args: argparse.Namespace) -> int:
    from rltransfer.tools.commands import COMMANDS as VISION

    return VISION[args.command](args)


COMMANDS = {"run": _cmd_run, "report": _cmd_report, "envs": _cmd_envs, "methods": _cmd_methods}
COMMANDS |= {"encoders": _vision, "pretrain": _vision, "probe": _vision}


def _stdout_is_closed() -> bool:
    """True when our stdout's reader went away (the write end of a pipe reports an error)."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        return True
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() here, or no real file descriptor
        return False


def _stdout_closed() -> int:
    """The reader of our output went away (``rltransfer methods --json | head``): point stdout
    at /dev/null so that the interpreter's final flush cannot fail again, and exit quietly with
    the shell's code for SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE_CLOSED


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        if not _stdout_is_closed():
            raise  # a pipe of something else (a worker, a socket) broke: not ours to hide
        return _stdout_closed()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "interrupted: finished runs are kept; run the same command again to resume.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
