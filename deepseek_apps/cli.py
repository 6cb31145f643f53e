"""The ``deepseek-apps`` command: one sub-command per app, plus ``dashboard``."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import DeepSeekAppsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepseek-apps",
        description="Small, fast models for factories, banks and shops: train, score, export, serve.",
    )
    parser.add_argument("--version", action="version", version=f"deepseek-apps {__version__}")
    sub = parser.add_subparsers(dest="app", required=True, metavar="APP")
    from .apps.inspector import cli as inspector_cli

    inspector_cli.add_parser(sub)
    d = sub.add_parser("dashboard", help="start the Streamlit dashboard")
    d.add_argument("--port", type=int, default=8501)
    d.add_argument("--address", default="127.0.0.1")
    d.set_defaults(func=_dashboard)
    return parser


def _dashboard(args: argparse.Namespace) -> int:
    import subprocess
    from pathlib import Path

    home = Path(__file__).resolve().parent.parent / "dashboards" / "Home.py"
    if not home.exists():
        from .errors import ErrorCode, MissingResourceError

        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            "dashboard files not found",
            value=str(home),
            hint="run from a source checkout (dashboards/ is not part of the wheel)",
        )
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(home),
        "--server.port",
        str(args.port),
        "--server.address",
        args.address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DeepSeekAppsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
