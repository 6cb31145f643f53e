"""NEU-DET detector training on a CUDA GPU (FP32 and bf16) against the CPU: seconds per epoch and test mAP.

A prepared, self-contained script for a machine with a GPU. Every variant trains the default
inspector detector with the same seed, split and number of epochs through the public API
(``QualityInspector(train_config=TrainConfig(device=..., precision=...)).fit``), then reports
the mean training seconds per epoch (from the run's ``history.json``, evaluation excluded), the
validation and test mAP@0.5, and the speed-up over the CPU variant. The JSON goes to
``$OUT/gpu_train.json`` (or ``--out``).

Usage:
    python benchmarks/gpu_train.py --epochs 10                       # cuda:32, cuda:bf16, cpu:32
    python benchmarks/gpu_train.py --device cpu --epochs 1 --data synthetic:24   # smoke run, no GPU
    python benchmarks/gpu_train.py --cpu-epochs 2 --reference-cpu-s-per-epoch 19.8

``--cpu-epochs`` trains the CPU variant for fewer epochs (its seconds per epoch are still
comparable; its mAP is then not). ``--reference-cpu-s-per-epoch`` records the seconds per
epoch measured on the CPU the README quotes, for the ratio against that machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "neu_det"


def load(data: str):
    from deepseek_apps.datasets import load_dataset

    if data.startswith("synthetic:"):
        from deepseek_apps.datasets.synthetic import write_voc

        folder = write_voc(Path(tempfile.mkdtemp(prefix="gpu-train-")), int(data.split(":", 1)[1]), seed=11)
        return load_dataset(folder, "voc")
    return load_dataset(Path(data), "voc")


def train_variant(dataset, device: str, precision: str, epochs: int, args, out: Path) -> dict:
    import torch

    from deepseek_apps import QualityInspector
    from deepseek_apps.core.train import TrainConfig

    run_dir = out / f"run-{device.replace(':', '')}-{precision}-e{epochs}"
    config = TrainConfig(
        epochs=epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        threads=args.cpu_threads if device == "cpu" else None,
        out_dir=str(run_dir),
        resume=False,
        progress=False,
        device=device,
        precision=precision,
        workers=args.workers,
    )
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    inspector = QualityInspector(train_config=config).fit(dataset, progress=False, seed=args.seed)
    wall = time.perf_counter() - started
    history = json.loads((run_dir / "history.json").read_text())
    per_epoch = [h.get("train_seconds", h["seconds"]) for h in history]
    steady = per_epoch[1:] or per_epoch  # the first epoch carries CUDA / cuDNN warm-up
    metrics = inspector.metrics_
    return {
        "device": device,
        "precision": precision,
        "epochs": len(history),
        "train_s_per_epoch_mean": sum(steady) / len(steady),
        "train_s_per_epoch_first": per_epoch[0],
        "epoch_s_with_eval_mean": sum(h["seconds"] for h in history) / len(history),
        "wall_s": wall,
        "best_val_map50": metrics.get("best_val_map50"),
        "test_map50": metrics.get("test_map50"),
        "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="NEU-DET folder (VOC layout) or synthetic:N")
    ap.add_argument("--epochs", type=int, default=10, help="epochs of every variant")
    ap.add_argument("--cpu-epochs", type=int, default=None, help="epochs of the CPU variant (default: --epochs)")
    ap.add_argument("--device", default=None, help="only this device (e.g. cpu for a smoke run)")
    ap.add_argument("--precisions", default="32,bf16", help="precisions tried on CUDA")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="data-loading processes (default: the Trainer's)")
    ap.add_argument("--cpu-threads", type=int, default=None, help="torch threads of the CPU variant")
    ap.add_argument("--reference-cpu-s-per-epoch", type=float, default=None, help="s/epoch on the README's CPU")
    ap.add_argument("--out", default=os.environ.get("OUT", "bench_out"), help="folder for gpu_train.json and runs")
    args = ap.parse_args(argv)

    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = []
    if args.device in (None, "cuda") or str(args.device).startswith("cuda"):
        if torch.cuda.is_available():
            variants += [(args.device or "cuda", p, args.epochs) for p in args.precisions.split(",")]
        elif args.device is not None:
            print("no CUDA GPU here", file=sys.stderr)
            return 2
    if args.device in (None, "cpu"):
        variants.append(("cpu", "32", args.cpu_epochs or args.epochs))
    dataset = load(args.data)
    report = {
        "data": args.data,
        "images": len(dataset.samples),
        "torch": torch.__version__,
        "host": {"machine": platform.machine(), "cpus": os.cpu_count()},
        "runs": [],
    }
    for device, precision, epochs in variants:
        record = train_variant(dataset, device, precision, epochs, args, out)
        report["runs"].append(record)
        print(json.dumps(record, default=float), flush=True)
        (out / "gpu_train.json").write_text(json.dumps(report, indent=2, default=float))
    cpu = next((r for r in report["runs"] if r["device"] == "cpu"), None)
    for record in report["runs"]:
        if cpu and record is not cpu:
            record["speedup_vs_cpu_here"] = cpu["train_s_per_epoch_mean"] / record["train_s_per_epoch_mean"]
        if args.reference_cpu_s_per_epoch:
            record["speedup_vs_reference_cpu"] = args.reference_cpu_s_per_epoch / record["train_s_per_epoch_mean"]
    (out / "gpu_train.json").write_text(json.dumps(report, indent=2, default=float))
    print(json.dumps({"written": str(out / "gpu_train.json")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
