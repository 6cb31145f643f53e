"""QualityInspector: PyTorch eager FP32 vs ONNX Runtime FP32 vs the shipped INT8 bundle.

Everything is measured in one run, end to end (200x200 PIL image in, ``Inspection`` out:
resize, model, NMS), at batch 1 and 16 on 2 threads, each variant in its own process, timed
round-robin (in one shared process, the INT8 bundle timed after the PyTorch and FP32 variants
measured 13.4 ms per image at batch 1, and 9.3 ms alone), and mAP@0.5 of each variant on the
held-out NEU-DET test split recorded with the model.

    python benchmarks/inspector.py [--data ../shared/data/neu_det] [--out bench_out]

``--also NAME=BUNDLE`` adds another bundle to the same run (for example the previous
release of the shipped bundle, to measure a rebuild side by side).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date
from functools import partial
from pathlib import Path

from deepseek_apps import QualityInspector
from deepseek_apps.core.bench import cpu_info, measure_isolated, ratio_table
from deepseek_apps.core.registry import get_model
from deepseek_apps.datasets.synthetic import generate_samples

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = get_model("inspector").path
DEFAULT_TORCH = get_model("inspector", "neu_det-torch").path


def _predictor(path: str, batch: int):
    """In the timing worker: the variant's ``predict`` (a module-level function, so it pickles)."""
    return QualityInspector.load(path, threads=2, batch_size=batch).predict


def run(data: Path | None, out: Path, repeat: int, also: dict[str, Path] | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="dsa-bench-") as tmp:  # the FP32 bundle, removed afterwards
        return _run(data, out, repeat, also, Path(tmp))


def _run(data: Path | None, out: Path, repeat: int, also: dict[str, Path] | None, tmp: Path) -> dict:
    import torch

    torch.set_num_threads(2)
    fp32_bundle = QualityInspector.load(DEFAULT_TORCH, threads=2).export(tmp / "fp32.zip", int8=False)
    variants = {  # name: (model path, file whose size is reported)
        "pytorch-eager-fp32": (DEFAULT_TORCH, DEFAULT_TORCH / "model.safetensors"),
        "onnxruntime-fp32": (fp32_bundle, fp32_bundle),
        "onnxruntime-int8 (shipped)": (DEFAULT_BUNDLE, DEFAULT_BUNDLE),
        **{name: (path, path) for name, path in (also or {}).items()},
    }
    images = [s.image for s in generate_samples(16, seed=42)]
    results, quality = [], {}
    files = {name: file for name, (_, file) in variants.items()}
    for batch in (1, 16):  # each variant in its own process, round-robin (see core.bench.measure_isolated)
        factories = {name: partial(_predictor, str(path), batch) for name, (path, _) in variants.items()}
        per_round = 10 if batch == 1 else 3
        rounds = max(1, (repeat if batch == 1 else max(20, repeat // 8)) // per_round)
        for result in measure_isolated(factories, images[:batch], batch, rounds, per_round, warmup=5, files=files):
            results.append(result)
            print(result.to_dict(), flush=True)
    if data is not None and data.exists():
        for name, (path, _) in variants.items():
            ev = QualityInspector.load(path, threads=2).evaluate(data, "voc", split="test")
            quality[name] = {"test mAP@0.5": ev.map50}
            print(name, json.dumps(ev.to_dict(), default=float), flush=True)
    table = ratio_table(results, "pytorch-eager-fp32", quality)
    report = {
        "date": date.today().isoformat(),
        "cpu": cpu_info(),
        "threads": 2,
        "table": table,
        "results": [r.to_dict() for r in results],
        "quality": quality,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "inspector.json").write_text(json.dumps(report, indent=2, default=float))
    (out / "inspector.md").write_text(f"{report['date']}, {report['cpu']}\n\n{table}\n")
    print(f"\n{report['date']} | CPU: {report['cpu']}\n\n{table}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "neu_det")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--also", action="append", default=[], metavar="NAME=BUNDLE", help="another bundle to measure")
    args = parser.parse_args()
    also = dict(item.split("=", 1) for item in args.also)
    run(args.data, args.out, args.repeat, {name: Path(path) for name, path in also.items()})


if __name__ == "__main__":
    main()
