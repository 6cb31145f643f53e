"""QualityInspector backbones side by side on NEU-DET: tiny (from scratch) vs EfficientNet-Lite0 (ImageNet).

Both backbones train with the same budget on the same seeded split (NEU-DET has no split of
its own: 15% test, 10% validation, seed 0, as the shipped default), optionally on a share
of the training images only (``--train-share 0.1``: the small-data run; validation and test
stay the same). Reported per run: test mAP@0.5 (PyTorch, and the INT8 bundle), the epoch
that reached the best validation mAP, INT8 bundle latency per 200x200 image (batch 1,
2 threads, end to end: PIL image in, ``Inspection`` out) and bundle size.

Training resumes from its ``--out`` folder, so a run can be cut into pieces shorter than
the CPU lock allows (run the same command again):

    flock /tmp/cpu.lock timeout 590 python benchmarks/inspector_backbones.py train --backbone tiny --epochs 12
    flock /tmp/cpu.lock python benchmarks/inspector_backbones.py measure --backbone tiny --epochs 12
    python benchmarks/inspector_backbones.py latency   # every run's bundle, separate processes
    python benchmarks/inspector_backbones.py table
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import numpy as np

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.splits import split_indices
from deepseek_apps.core.bench import cpu_info, measure, measure_isolated
from deepseek_apps.core.train import TrainConfig
from deepseek_apps.datasets import DetectionDataset, load_dataset
from deepseek_apps.datasets.synthetic import generate_samples

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "neu_det"


def run_dir(
    out: Path, backbone: str, share: float, epochs: int, precision: str = "32", ema: float | None = None
) -> Path:
    name = f"{backbone}-share{share:g}-e{epochs}" + ("" if precision == "32" else f"-{precision}")
    return out / (name + ("" if ema is None else f"-ema{ema:g}"))


def tagged_dataset(share: float, seed: int = 0) -> DetectionDataset:
    """NEU-DET with the default's random split written into ``meta["split"]``; train cut to ``share``."""
    data = load_dataset(DATA, "voc")
    train, val, test = split_indices(data, 0.1, 0.15, seed)
    if share < 1.0:
        keep = np.random.default_rng(seed + 1).permutation(train)[: max(1, int(round(share * len(train))))]
        train = sorted(int(i) for i in keep)
    samples = []
    for part, indices in (("train", train), ("val", val), ("test", test)):
        for i in indices:
            data.samples[i].meta["split"] = part
            samples.append(data.samples[i])
    return DetectionDataset(samples, data.class_names)


def train(args: argparse.Namespace) -> None:
    from deepseek_apps.apps.inspector.model import DetectorConfig

    out = run_dir(args.out, args.backbone, args.train_share, args.epochs, args.precision, args.ema)
    inspector = QualityInspector(
        detector_config=DetectorConfig(input_size=None, backbone=args.backbone),
        train_config=TrainConfig(
            epochs=args.epochs,
            batch_size=32,
            lr=2e-3,
            threads=2,
            out_dir=str(out),
            precision=args.precision,
            ema=args.ema,
        ),
    )
    inspector.fit(tagged_dataset(args.train_share), progress=False)
    (out / "fit_metrics.json").write_text(json.dumps(inspector.metrics_, indent=2, default=float))
    print(json.dumps({k: v for k, v in inspector.metrics_.items() if k != "per_class"}, default=float))


def measure_run(args: argparse.Namespace) -> None:
    out = run_dir(args.out, args.backbone, args.train_share, args.epochs, args.precision, args.ema)
    history = json.loads((out / "history.json").read_text())
    data = tagged_dataset(args.train_share)
    calib = DetectionDataset([s for s in data.samples if s.meta["split"] == "train"][:64], data.class_names)
    test = DetectionDataset([s for s in data.samples if s.meta["split"] == "test"], data.class_names)
    if (out / "fit_metrics.json").is_file():
        fit = json.loads((out / "fit_metrics.json").read_text())
    else:  # a run cut short (time): its best checkpoint so far, measured on the same test split
        best = max(history, key=lambda h: h["map50"])
        fit = {
            "input_size": json.loads((out / "config.json").read_text())["detector"]["input_size"],
            "best_epoch": f"{best['epoch']} of {len(history)} done",
            "best_val_map50": best["map50"],
            "test_map50": QualityInspector.load(out, threads=2).evaluate(test).map50,
            "training_health": {"status": "not judged (run cut short)"},
        }
    bundle = QualityInspector.load(out, threads=2).export(out / "int8.zip", int8=True, calib=calib, force=True)
    int8 = QualityInspector.load(bundle, threads=2, batch_size=1)
    images = [s.image for s in generate_samples(1, seed=42)]  # 200x200, like NEU-DET
    timing = measure(f"{args.backbone} int8", int8.predict, images, batch_size=1, repeat=200, warmup=20, file=bundle)
    record = {
        "backbone": args.backbone,
        "precision": args.precision,
        "ema": args.ema,
        "train_share": args.train_share,
        "epochs": args.epochs,
        "input_size": fit["input_size"],
        "best_epoch": fit["best_epoch"],
        "best_val_map50": fit["best_val_map50"],
        "test_map50_torch": fit.get("test_map50"),
        "test_map50_int8": int8.evaluate(test).map50,
        "int8_latency_ms_p50": timing.to_dict().get("p50_ms"),
        "int8_bundle_mb": bundle.stat().st_size / 1e6,
        "training_health": fit["training_health"]["status"],
        "train_seconds": sum(h["seconds"] for h in history),
        "timing": timing.to_dict(),
    }
    (out / "bench.json").write_text(json.dumps(record, indent=2, default=float))
    print(json.dumps(record, default=float))


def _predictor(path: str):
    """In the timing worker: the bundle's batch-1 ``predict`` (module level, so it pickles)."""
    return QualityInspector.load(path, threads=2, batch_size=1).predict


def latency(args: argparse.Namespace) -> None:
    """Every run's INT8 bundle at batch 1, each in its own process, round-robin -> ``latency.json``.

    ``measure`` times a bundle in the process that has just run the PyTorch evaluation, which
    skews the comparison between runs; this step is what the README's ms column reports.
    """
    bundles = {d.name: d / "int8.zip" for d in sorted(args.out.iterdir()) if (d / "int8.zip").is_file()}
    bundles.update({name: Path(path) for name, path in (item.split("=", 1) for item in args.also)})
    images = [s.image for s in generate_samples(1, seed=42)]
    factories = {name: partial(_predictor, str(path)) for name, path in bundles.items()}
    results = measure_isolated(factories, images, 1, rounds=20, per_round=10, warmup=5, files=bundles)
    report = {"cpu": cpu_info(), "p50_ms": {r.name: r.p50_ms for r in results}}
    (args.out / "latency.json").write_text(json.dumps(report, indent=2, default=float))
    print(json.dumps(report, indent=2, default=float))


def table(args: argparse.Namespace) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(args.out.glob("*/bench.json"))]
    isolated = args.out / "latency.json"
    separate = json.loads(isolated.read_text())["p50_ms"] if isolated.is_file() else {}
    for r in rows:  # the separate-process figure, where the latency step has run
        name = run_dir(args.out, r["backbone"], r["train_share"], r["epochs"], r["precision"], r.get("ema")).name
        r["int8_latency_ms_p50"] = separate.get(name, r["int8_latency_ms_p50"])
    print(f"CPU: {cpu_info()}")
    print(
        "| backbone | weights | train images | epochs (best) | input | test mAP@0.5 torch | INT8 | INT8 ms/img | MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['backbone']} | {'EMA ' + format(r['ema'], 'g') if r.get('ema') else 'last'} | {r['train_share']:.0%} | {r['epochs']} ({r['best_epoch']}) | {r['input_size']} | "
            f"{r['test_map50_torch']:.3f} | {r['test_map50_int8']:.3f} | {r['int8_latency_ms_p50']:.2f} | "
            f"{r['int8_bundle_mb']:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["train", "measure", "latency", "table"])
    parser.add_argument("--backbone", default="tiny", choices=["tiny", "efficientnet_lite0"])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--train-share", type=float, default=1.0, help="share of the training images used")
    parser.add_argument(
        "--precision",
        default="32",
        choices=["32", "bf16"],
        help="training precision (bf16: CPUs with AMX / AVX-512 BF16)",
    )
    parser.add_argument("--ema", type=float, default=None, help="decay of the weights' moving average (None: off)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "inspector_backbones")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=BUNDLE", help="latency: another bundle")
    args = parser.parse_args()
    {"train": train, "measure": measure_run, "latency": latency, "table": table}[args.step](args)


if __name__ == "__main__":
    main()
