"""Compression, side by side: what a user would otherwise pick vs our optimize levels.

Two real cases trained by our code on NEU-DET: a ResNet-18 classifier (NEU-CLS view: the
class of an image is the class of its boxes) and the inspector's default detector. For each,
in one run, each variant in its own process, timed in interleaved rounds (2 threads):
PyTorch eager FP32, torch.compile, ONNX Runtime FP32, ONNX Runtime INT8 with default
``quantize_static`` settings on the unpruned model, OpenVINO FP32, OpenVINO INT8 (it runs
our level-2 and level-3 QDQ models), and our levels 1, 2 and 3.

    python benchmarks/compression.py [--case classifier|detector|all] [--out bench_out]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import torch

from deepseek_apps.core.bench import cpu_info, measure_isolated, session_factory
from deepseek_apps.core.compress.pipeline import OptimizeTarget, count_params_macs, optimize
from deepseek_apps.core.runtime.export import export_onnx, static_reshapes

ROOT = Path(__file__).resolve().parents[1]
NEU = ROOT.parent / "shared" / "data" / "neu_det"


def classifier_case(work: Path, epochs: int, finetune_epochs: int) -> tuple[OptimizeTarget, dict, object]:
    """ResNet-18 at 224x224 on NEU-CLS: train once (cached in runs/), then describe it for optimize.

    Split 70/15/15 (seeded, stratified): optimize decides on validation; the table reports test.
    """
    from safetensors.torch import load_file, save_file

    from deepseek_apps.apps.classifier import (
        ClassifierGraph,
        build_classifier,
        classifier_target,
        prepare_pixels,
        train_classifier,
    )
    from deepseek_apps.core.train import TrainConfig
    from deepseek_apps.datasets import load_dataset
    from deepseek_apps.datasets.classification import from_detection, stratified_split

    data = from_detection(load_dataset(NEU, "voc"))
    rest, test_idx = stratified_split(data.labels, 0.15, seed=0)
    tr, va = stratified_split(data.labels[rest], 0.15 / 0.85, seed=1)
    train_idx, val_idx = [rest[i] for i in tr], [rest[i] for i in va]
    pixels = prepare_pixels(data, 224)
    graph = ClassifierGraph(build_classifier("resnet18", len(data.class_names)))
    run = ROOT / "runs" / "resnet18_neu"
    weights = run / "model.safetensors"
    if weights.exists():
        graph.load_state_dict(load_file(str(weights)))
    else:
        cfg = TrainConfig(epochs=epochs, batch_size=32, lr=1e-3, out_dir=str(run), monitor="accuracy")
        train_classifier(graph, pixels[train_idx], data.labels[train_idx], pixels[val_idx], data.labels[val_idx], cfg)
        save_file({k: v.contiguous() for k, v in graph.state_dict().items()}, str(weights))
    target = classifier_target(
        graph.eval(),
        pixels[train_idx],
        data.labels[train_idx],
        pixels[val_idx],
        data.labels[val_idx],
        finetune_epochs=finetune_epochs,
    )
    test = classifier_target(
        graph.eval(), pixels[train_idx][:16], data.labels[train_idx][:16], pixels[test_idx], data.labels[test_idx]
    ).evaluate
    info = {
        "case": "ResNet-18 classifier, NEU-CLS 224x224",
        "split": f"train {len(train_idx)} / val {len(val_idx)} (optimize decisions) / test {len(test_idx)} (reported)",
    }
    return target, info, test


def detector_case(work: Path, epochs: int, level3: str = "gn") -> tuple[OptimizeTarget, dict, object]:
    """The inspector's default detector: optimize decides on its validation split, the table reports test.

    Level 3 comes in two variants (``level3``: ``gn``, ``bn`` or ``both``): the head's
    GroupNorms kept, or converted to per-level BatchNorms (``fold_norms``) so the whole head
    runs as integer kernels.
    """
    from deepseek_apps import QualityInspector
    from deepseek_apps.apps.inspector.optimize import inspector_target

    loaded = QualityInspector(model_path=QualityInspector.default_weights).model_
    target = inspector_target(loaded, NEU, "voc", eval_split="val", finetune_epochs=epochs)
    folded = inspector_target(loaded, NEU, "voc", eval_split="val", finetune_epochs=epochs, fold_norms=True)
    test = inspector_target(loaded, NEU, "voc", eval_split="test", calib_images=16).evaluate
    info = {
        "case": "inspector FCOS detector, NEU-DET 192x192",
        "split": "the model's recorded splits: val (optimize decisions) / test (reported)",
        "level3_variants": {
            label: t
            for label, t, key in (
                ("ours level 3", target, "gn"),
                ("ours level 3 + GroupNorm -> BatchNorm", folded, "bn"),
            )
            if level3 in (key, "both")
        },
    }
    return target, info, test


def _default_int8(fp32: Path, out: Path, target: OptimizeTarget) -> Path:
    """What a user gets from ``quantize_static`` with its defaults (QDQ, per-tensor, S8S8)."""
    from onnxruntime.quantization import quantize_static

    class Reader:
        def __init__(self):
            self.it = iter(target.calibration)

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(fp32), str(out), Reader())
    return out


def _pm(report: dict) -> tuple[int, int]:
    return report["params"], report["macs"]


def _optimized(name: str, target: OptimizeTarget, level: int, ratios: tuple, cache: Path | None):
    """``optimize`` at ``level``, or its cached result: ``(onnx path, {params, macs, steps})``.

    With ``cache`` set, the ONNX file and what the table needs of the report are kept there, so
    re-timing (on a quieter machine, say) does not repeat the fine-tuning.
    """
    recipe = hashlib.sha1(target.finetune_description.encode()).hexdigest()[:8]  # fine-tuning settings
    key = f"{name}_level{level}_r{'-'.join(str(r) for r in ratios)}_{recipe}"
    if cache is not None and (cache / f"{key}.json").exists():
        print(f"reusing {cache / key}.onnx (delete it to re-run optimize)")
        static_reshapes(cache / f"{key}.onnx")  # exact graph pass newer than some cached files; no-op otherwise
        return cache / f"{key}.onnx", json.loads((cache / f"{key}.json").read_text())
    data, report = optimize(target, level=level, max_accuracy_drop=1.0, repeat=20, prune_ratios=ratios)
    out = cache or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{key}.onnx").write_bytes(data)
    summary = {"params": report.result.params, "macs": report.result.macs, "steps": [s.__dict__ for s in report.steps]}
    for step in report.steps:
        print(f"  level {level} - {step.step}: {step.detail} ({step.metric})", flush=True)
    (out / f"{key}.json").write_text(json.dumps(summary, indent=2, default=float))
    return out / f"{key}.onnx", summary


def run_case(
    name: str,
    target: OptimizeTarget,
    info: dict,
    test_eval,
    work: Path,
    repeat_rounds: int,
    ratios: tuple,
    cache: Path | None = None,
) -> dict:
    one = {k: v[:1] for k, v in target.calibration[0].items()}
    sixteen = {k: np.concatenate([v] * (16 // len(v) + 1))[:16] for k, v in target.calibration[0].items()}
    params, macs = count_params_macs(target.module, target.example_inputs)
    fp32 = work / f"{name}_fp32.onnx"
    export_onnx(
        target.module,
        target.example_inputs,
        fp32,
        target.input_names,
        target.output_names,
        compare=target.compare or (lambda r, o: [float(np.abs(a - b).max()) for a, b in zip(r, o)]),
        tolerance=1e-2,
    )
    variants: dict[str, dict] = {}
    names = {"input_names": list(target.input_names), "output_names": list(target.output_names)}

    def add(label: str, factory, params_: int, macs_: int, file: Path | None) -> None:
        variants[label] = {"factory": factory, "params": params_, "macs": macs_, "file": file}

    eager = target.module.eval()
    add("pytorch eager fp32", session_factory(eager, "torch", **names), params, macs, None)
    add("torch.compile fp32", session_factory(eager, "torch.compile", **names), params, macs, None)
    add("onnxruntime fp32", session_factory(fp32), params, macs, fp32)
    default_int8 = _default_int8(fp32, work / f"{name}_dq.onnx", target)
    add("onnxruntime int8 (default quantize_static)", session_factory(default_int8), params, macs, default_int8)
    add("openvino fp32", session_factory(fp32, "openvino"), params, macs, fp32)
    reports = {}
    level3 = info.pop("level3_variants", {"ours level 3": target})  # label -> target
    levels = [(f"ours level {lv}", lv, target) for lv in (1, 2)] + [(label, 3, t) for label, t in level3.items()]
    for label, level, level_target in levels:
        path, reports[label] = _optimized(name, level_target, level, ratios, cache)
        add(label, session_factory(path), reports[label]["params"], reports[label]["macs"], path)
        if level >= 2:  # the same QDQ file, run by OpenVINO (it uses AMX where the CPU has it)
            add(f"openvino int8 ({label} QDQ model)", session_factory(path, "openvino"), *_pm(reports[label]), path)
    # each variant in its own process: runtimes sharing one process slow each other down on 2 cores
    factories = {k: v["factory"] for k, v in variants.items()}
    files = {k: v["file"] for k, v in variants.items() if v["file"]}
    b1 = {
        r.name: r
        for r in measure_isolated(factories, one, 1, rounds=repeat_rounds, per_round=10, files=files, skip_failed=True)
    }
    rounds16 = max(3, repeat_rounds // 4)
    b16 = {r.name: r for r in measure_isolated(factories, sixteen, 16, rounds=rounds16, per_round=3, skip_failed=True)}
    variants = {k: v for k, v in variants.items() if k in b1 and k in b16}
    baseline_metric = test_eval(fp32)
    rows = []
    for label, v in variants.items():
        # eager / compiled run the same FP32 numerics as the parity-checked ONNX FP32 export
        metric = test_eval(Path(v["file"])) if v["file"] is not None else baseline_metric
        rows.append(
            {
                "variant": label,
                "params": v["params"],
                "MMACs": v["macs"] / 1e6,
                "file MB": (Path(v["file"]).stat().st_size / 1e6) if v["file"] else None,
                "p50 ms b1": b1[label].p50_ms,
                "p99 ms b1": b1[label].p99_ms,
                "img/s b16": b16[label].throughput,
                "metric": metric,
                "drop": baseline_metric - metric,
                "speed-up vs eager b1": b1["pytorch eager fp32"].p50_ms / b1[label].p50_ms,
            }
        )
    return {
        **info,
        "metric": target.metric_name,
        "rows": rows,
        "steps": {lv: r["steps"] for lv, r in reports.items()},
    }


def markdown(result: dict) -> str:
    head = [
        "variant",
        "params",
        "MMACs",
        "file MB",
        "p50 ms b1",
        "p99 ms b1",
        "img/s b16",
        result["metric"],
        "drop",
        "speed-up vs eager b1",
    ]
    lines = [f"**{result['case']}** ({result['split']})", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        cells = [
            r["variant"],
            f"{r['params']:,}",
            f"{r['MMACs']:.0f}",
            "-" if r["file MB"] is None else f"{r['file MB']:.2f}",
            f"{r['p50 ms b1']:.2f}",
            f"{r['p99 ms b1']:.2f}",
            f"{r['img/s b16']:.0f}",
            f"{r['metric']:.2f}",
            f"{r['drop']:+.2f}",
            f"{r['speed-up vs eager b1']:.2f}x",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=["classifier", "detector", "all"], default="all")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--classifier-epochs", type=int, default=8)
    parser.add_argument("--classifier-finetune-epochs", type=int, default=20, help="classifier level 3 KD epochs")
    parser.add_argument("--finetune-epochs", type=int, default=60, help="detector level 3 recovery epochs")
    parser.add_argument("--classifier-ratios", default="0.5,0.35", help="level 3 pruning ratios to try, in order")
    parser.add_argument("--detector-ratios", default="0.2", help="level 3 pruning ratios to try, in order")
    parser.add_argument(
        "--detector-level3",
        choices=["gn", "bn", "both", "none"],
        default="gn",
        help="detector level-3 rows: GroupNorm head kept (default), GroupNorm -> BatchNorm (2026-12-01: over the "
        "budget, so level 3 retries without it: two more 60-epoch fine-tunes), both, or none (timing only)",
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--cache",
        type=lambda value: Path(value) if value else None,
        default=ROOT / "runs" / "compression",
        help="keep optimize results here and reuse them (re-time without re-training); '' to disable",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="dsa-compression-"))
    results = []
    cases = {
        "classifier": lambda: classifier_case(work, args.classifier_epochs, args.classifier_finetune_epochs),
        "detector": lambda: detector_case(work, args.finetune_epochs, args.detector_level3),
    }
    for name in ["classifier", "detector"] if args.case == "all" else [args.case]:
        target, info, test_eval = cases[name]()
        ratios = tuple(float(r) for r in getattr(args, f"{name}_ratios").split(","))
        results.append(run_case(name, target, info, test_eval, work, args.rounds, ratios, args.cache))
        print(markdown(results[-1]), flush=True)
    report = {"date": date.today().isoformat(), "cpu": cpu_info(), "threads": 2, "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compression.json").write_text(json.dumps(report, indent=2, default=float))
    text = f"{report['date']}, {report['cpu']}\n\n" + "\n\n".join(markdown(r) for r in results)
    (args.out / "compression.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
