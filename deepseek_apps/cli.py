"""The ``deepseek-apps`` command: one sub-command per app, plus ``dashboard``."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .core.compress.cli_options import QAT_CHOICES, add_recovery_options, print_report
from .errors import DeepSeekAppsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepseek-apps",
        description="Small, fast models for factories, banks and shops: train, score, export, serve.",
    )
    parser.add_argument("--version", action="version", version=f"deepseek-apps {__version__}")
    parser.add_argument(
        "--sign",
        metavar="KEY",
        default=None,
        help="sign every bundle this command writes with this Ed25519 private key (deepseek-apps keys new)",
    )
    parser.add_argument(
        "--encrypt",
        metavar="KEY",
        default=None,
        help="encrypt every bundle this command writes (AES-256-GCM key file from `keys new --encryption`)"
        " and decrypt the bundles it opens with the same key",
    )
    parser.add_argument(
        "--trusted-key",
        metavar="PUB",
        action="append",
        default=None,
        help="refuse any bundle this command opens unless signed by this public key (repeatable)",
    )
    sub = parser.add_subparsers(dest="app", required=True, metavar="APP")
    from .apps.inspector import cli as inspector_cli

    inspector_cli.add_parser(sub)
    from .apps.recommender import cli as recommender_cli

    recommender_cli.add_parser(sub)

    from .apps.fraud import cli as fraud_cli

    fraud_cli.add_parser(sub)
    from .apps.contracts import cli as contracts_cli

    contracts_cli.add_parser(sub)
    o = sub.add_parser("optimize", help="make a model smaller and faster (levels 0-3) and write an edge bundle")
    o.add_argument(
        "target",
        choices=["inspector", "classifier"],
        help="inspector: the detector; classifier: a torchvision classifier (--arch + --weights)",
    )
    o.add_argument(
        "--level",
        type=int,
        default=2,
        choices=[0, 1, 2, 3],
        help="0 FP32 ONNX, 1 graph-optimised, 2 INT8 mixed precision, 3 pruning + fine-tune + INT8",
    )
    o.add_argument("--data", required=True, help="annotated data: calibration, fine-tuning and the metric")
    o.add_argument(
        "--format",
        default="voc",
        choices=["voc", "yolo", "coco", "masks", "folder"],
        help="folder: one sub-folder of images per class (classifier only)",
    )
    o.add_argument("--model", default=None, help="inspector: training folder (default: the embedded model's weights)")
    o.add_argument("--arch", default="resnet18", help="classifier: torchvision architecture name")
    o.add_argument("--weights", default=None, help="classifier: .safetensors weights of --arch")
    o.add_argument("--input-size", type=int, default=224, help="classifier: input side in pixels")
    add_recovery_options(o, finetune_default="inspector 60, classifier 20")
    o.add_argument("--out", required=True, help="bundle path (.zip or folder)")
    o.set_defaults(func=_optimize)
    from .core.runtime.keys_cli import add_keys_parser

    add_keys_parser(sub)
    m = sub.add_parser("models", help="list the shipped models: path, data, metrics, licence, model card")
    m.add_argument(
        "app", nargs="?", default=None, help="only this application's (inspector, contracts, recommender, fraud)"
    )
    m.add_argument("--json", action="store_true", help="print JSON instead of a table")
    m.set_defaults(func=_models)
    d = sub.add_parser("dashboard", help="start the Streamlit dashboard")
    d.add_argument("--port", type=int, default=8501)
    d.add_argument("--address", default="127.0.0.1")
    d.set_defaults(func=_dashboard)
    return parser


def _models(args: argparse.Namespace) -> int:
    import json

    from .core.registry import list_models

    models = list_models(args.app)
    if args.json:
        print(json.dumps([m.to_dict() for m in models], indent=2))
        return 0
    for m in models:
        metrics = ", ".join(f"{k} {v}" for k, v in m.metrics.items())
        print(f"{m.app}/{m.name}: {m.description}")
        print(f"  path: {m.path}\n  data: {m.data}\n  metrics: {metrics}\n  licence: {m.licence}\n  card: {m.card}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess
    from pathlib import Path

    from .errors import ErrorCode, MissingResourceError

    package = Path(__file__).resolve().parent
    # installed from a wheel: deepseek_apps/dashboards/; editable install or checkout: <repo>/dashboards/
    candidates = [package / "dashboards" / "Home.py", package.parent / "dashboards" / "Home.py"]
    home = next((path for path in candidates if path.is_file()), None)
    if home is None:
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            "dashboard files not found",
            value=", ".join(str(path) for path in candidates),
            hint="reinstall the package (pip install 'deepseek-apps[dashboard]') or run from a source checkout",
        )
    if importlib.util.find_spec("streamlit") is None:
        raise MissingResourceError(
            ErrorCode.OPTIONAL_DEPENDENCY,
            "optional dependency 'streamlit' is not installed",
            value="streamlit",
            hint="install it with: pip install 'deepseek-apps[dashboard]'",
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


def _optimize(args: argparse.Namespace) -> int:
    if args.target == "classifier":
        return _optimize_classifier(args)
    from .apps.inspector.cli_optimize import run_optimize  # the same as `deepseek-apps inspector optimize`

    return run_optimize(args)


def _optimize_classifier(args: argparse.Namespace) -> int:
    from .apps.classifier import optimize_classifier
    from .datasets import load_dataset
    from .datasets.classification import from_detection, load_image_folder
    from .errors import ErrorCode, InvalidInputError

    if not args.weights:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "--weights is required for a classifier",
            value=None,
            hint="pass the .safetensors weights of --arch",
        )
    data = (
        load_image_folder(args.data)
        if args.format == "folder"
        else from_detection(load_dataset(args.data, args.format))
    )
    bundle, report = optimize_classifier(
        args.arch,
        args.weights,
        data,
        args.out,
        level=args.level,
        input_size=args.input_size,
        max_accuracy_drop=args.max_drop,
        prune_ratios=args.prune_ratios,
        qat=QAT_CHOICES[args.qat],
        **_epochs(args),
    )
    return print_report(bundle, report)


def _epochs(args: argparse.Namespace) -> dict:
    """``--finetune-epochs`` when given; otherwise each target keeps its own default."""
    return {} if args.finetune_epochs is None else {"finetune_epochs": args.finetune_epochs}


def _bundle_policy(args: argparse.Namespace) -> None:
    """``--sign`` / ``--encrypt`` / ``--trusted-key`` apply to every bundle the command writes or reads."""
    import os

    from .core.runtime.bundle import ENCRYPT_KEY_ENV, SIGNING_KEY_ENV, TRUSTED_KEYS_ENV
    from .core.runtime.encryption import ENV_KEY_FILE

    if args.encrypt:
        os.environ[ENCRYPT_KEY_ENV] = args.encrypt
        os.environ[ENV_KEY_FILE] = args.encrypt
    if args.sign:
        os.environ[SIGNING_KEY_ENV] = args.sign
    if args.trusted_key:
        os.environ[TRUSTED_KEYS_ENV] = os.pathsep.join(args.trusted_key)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _bundle_policy(args)
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
