"""The ``rltransfer`` command line: run | report | envs | methods | encoders | pretrain | probe.

Exit codes: 0 success; 1 a run failed (the others completed and were kept); 2 invalid input
(a message naming the file and field, never a traceback); 130 interrupted (re-run to resume).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rltransfer.errors import RunFailedError, UserError

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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
        choices=["offline", "online", "disabled"],
        help="W&B mode (default: the study's, offline)",
    )
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], help="torch device")
    run.add_argument("--quiet", action="store_true", help="no progress output")

    rep = sub.add_parser("report", help="recompute summary, report and plot from curves alone")
    rep.add_argument("dir", help="a study folder holding target/<method>/seed_<k>/curve.csv")
    rep.add_argument("--threshold", type=float, help="override the study's threshold")

    envs = sub.add_parser("envs", help="list the testbed's environment families")
    envs.add_argument("--json", action="store_true", help="machine-readable output")

    methods = sub.add_parser("methods", help="list the available transfer methods")
    methods.add_argument("--json", action="store_true", help="print JSON (kinds, options)")

    from rltransfer.vision.commands import add_parsers

    add_parsers(sub)  # encoders | pretrain | probe
    return p


def _cmd_run(args: argparse.Namespace) -> int:
    from rltransfer.study import run_study

    try:
        result = run_study(
            args.study,
            out=args.out,
            quiet=args.quiet,
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

    root = Path(args.dir)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    options = AnalysisOptions.from_folder(root)
    if args.threshold is not None:
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
    from rltransfer.methods import METHODS

    listing = {
        kind: {
            "transfers": cls.transfers,
            "description": cls.description,
            "options": cls.option_defaults(),
        }
        for kind, cls in sorted(METHODS.items())
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
    from rltransfer.vision.commands import COMMANDS as VISION

    return VISION[args.command](args)


COMMANDS = {"run": _cmd_run, "report": _cmd_report, "envs": _cmd_envs, "methods": _cmd_methods}
COMMANDS |= {"encoders": _vision, "pretrain": _vision, "probe": _vision}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
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
