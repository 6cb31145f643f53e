"""Exporting inspector models: ONNX with parity check, INT8, and the edge bundle with its card."""

from __future__ import annotations

import json
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ... import __version__
from ...errors import DeepSeekAppsWarning, ErrorCode, InvalidInputError, RuntimeFailure
from .backend import INPUT_NAME, OUTPUT_NAMES, DetectorBackend, onnx_backend
from .deploy import evaluate_model

HEAD_OUTPUT_CONVS = ("cls_logits", "bbox_reg", "bbox_ctrness")


CALIBRATION_SAMPLES, CALIBRATION_SEED = 64, 777  # the built-in calibration set when none is given


def calibration_pixels(calib: Any, cfg, limit: int = 256, tiling: Any = None) -> np.ndarray:
    """Calibration images -> float32 pixel batch (also the export's parity-check inputs).

    ``calib``: a folder of images, a list of paths or images, a ``DetectionDataset``, or
    ``None``: 64 generated steel-surface images (``generate_samples(64, seed=777)``), which
    suit the NEU-DET classes; for other kinds of images pass a folder of typical ones.
    ``tiling`` (a tiled model's ``Tiling``): large images are cut into the tiles the model
    will see at run time (and the whole image); at most ``limit`` views, spread evenly.
    """
    from ...core.runtime.preprocess import to_model_input
    from ...core.runtime.tiling import views
    from ...datasets import DetectionDataset
    from ...datasets.io import list_images
    from .images import to_pil

    if calib is None:
        from ...datasets.synthetic import generate_samples

        images = [s.image for s in generate_samples(CALIBRATION_SAMPLES, seed=CALIBRATION_SEED)]
    elif isinstance(calib, DetectionDataset):
        images = [s.load() for s in calib.samples[:limit]]
    elif isinstance(calib, (str, Path)) and Path(calib).is_dir():
        images = [to_pil(p) for p in list_images(Path(calib))[:limit]]
    else:
        images = [to_pil(x) for x in list(calib)[:limit]]
    if not images:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY,
            "no calibration images found",
            value=str(calib),
            hint="pass a folder of typical images with --calib",
        )
    seen = [view for image in images for _, view in views(image, tiling)]
    if len(seen) > limit:
        seen = [seen[i] for i in np.linspace(0, len(seen) - 1, limit).round().astype(int)]
    return np.stack([to_model_input(im, cfg.input_size, cfg.in_channels) for im in seen]).astype(np.float32)


def parity_compare(ref: list[np.ndarray], got: list[np.ndarray]) -> list[float]:
    """Top-k parity: scores compared sorted; boxes and labels where the score order is unambiguous.

    Candidates whose scores lie within 1e-4 of a neighbour may legally swap places (the k-th
    slot too), so boxes and labels are compared only at positions with a clear score gap.
    """
    (rb, rs, rl), (gb, gs, gl) = ref, got
    if rb.shape != gb.shape or rs.shape != gs.shape:
        return [float("inf")] * 3
    score_diff = float(np.max(np.abs(np.sort(rs, axis=1) - np.sort(gs, axis=1))))
    gap = np.diff(rs, axis=1)  # top-k scores are sorted descending
    clear = np.ones_like(rs, dtype=bool)
    clear[:, 1:] &= np.abs(gap) > 1e-4
    clear[:, :-1] &= np.abs(gap) > 1e-4
    box_diff = float(np.max(np.abs(rb - gb)[clear])) if clear.any() else 0.0
    label_diff = float(np.max(np.abs(rl - gl)[clear])) if clear.any() else 0.0
    return [box_diff, score_diff, label_diff]


def refuse_unlearned(loaded: DetectorBackend, force: bool) -> None:
    """Raise code 4110 when the model's training run was judged failed (``health.py``), unless ``force``.

    A ``verdict_only`` run (boxes failed, OK/NG ranking passed) is exported with warning 4111.
    """
    health = loaded.metadata.get("training_health") or {}
    if health.get("status") == "verdict_only":
        warnings.warn(
            DeepSeekAppsWarning(
                ErrorCode.DETECTOR_BOXES_UNRELIABLE,
                "this detector's boxes did not match the validation annotations; its OK/NG verdicts did: "
                + (health.get("verdict") or ""),
                value=health.get("problems"),
                hint="use the bundle's verdicts, not its boxes (the model card says so); for boxes, see the "
                "likely causes in the card and train again",
            ),
            stacklevel=3,
        )
    if health.get("status") == "failed" and not force:
        raise RuntimeFailure(
            ErrorCode.DETECTOR_NOT_LEARNED,
            "this model did not learn to detect the defects: " + "; ".join(health.get("problems", [])),
            value=health.get("problems"),
            hint="likely causes: " + "; ".join(health.get("likely_causes", [])) + ". Fix the data or the "
            "settings and train again, or pass --force / force=True to export it anyway",
        )


def _training_notes(metadata: dict) -> list[str]:
    """Model-card lines on how the model was trained: split, resolution, health verdict."""
    lines = []
    split, res, health = metadata.get("split", {}), metadata.get("resolution"), metadata.get("training_health")
    if split.get("description"):
        lines.append(f"- Split ({split.get('source')}): {split['description']}")
    if res:
        lines.append(f"- Input size {res['size']} ({res['chosen']}): {res['reason']}")
    if health:
        lines.append(f"- Training check: {health['status']}")
        lines += [f"  - problem: {p}" for p in health.get("problems", [])]
        if health.get("verdict"):
            lines.append(f"  - as an OK/NG judge: {health['verdict']}; use its verdicts, not its boxes")
        lines += [f"  - likely cause: {c}" for c in health.get("likely_causes", [])]
    return lines


def _model_card(manifest: dict, metadata: dict) -> str:
    m = manifest["metrics"]
    lines = [
        f"# Model card: {manifest['model_name']}",
        "",
        f"- Application: inspector (deepseek-apps {manifest['version']}), precision {manifest['precision']}",
        f"- Classes: {', '.join(manifest['class_names'])}",
        f"- Input: {manifest['preprocessing']['channels']}-channel {manifest['preprocessing']['size']}px, "
        "resized with Pillow bilinear; normalisation is inside the graph",
        f"- Created: {manifest['created']}",
        "",
        "## Metrics",
        "",
        "```json",
        json.dumps(m, indent=2, default=float),
        "```",
    ]
    training = _training_notes(metadata)
    if training:
        lines += ["", "## Training", "", *training]
    if metadata.get("card_notes"):
        lines += ["", "## Notes", "", metadata["card_notes"]]
    return "\n".join(lines) + "\n"


def export_bundle(
    loaded: DetectorBackend,
    out: Path,
    int8: bool = True,
    calib: Any = None,
    calibration_method: str = "minmax",
    eval_data: Any = None,
    eval_format: str = "voc",
    eval_split: str = "all",
    model_name: str | None = None,
    score_threshold: float = 0.3,
    extra_metrics: dict | None = None,
    force: bool = False,
) -> Path:
    """Export to ONNX (parity-checked), quantize to INT8 QDQ unless ``int8=False``, and write a bundle.

    INT8 calibrates on ``calib`` (see ``calibration_pixels``; the built-in generated images
    when ``None``). The manifest's metrics are measured on ``eval_data`` with the exported model itself
    when given; otherwise the PyTorch model's recorded test metrics are copied and marked so.
    A model whose training run failed (``training_health``) is refused (code 4110) unless ``force``.
    """
    import torch

    refuse_unlearned(loaded, force)

    from ...core.compress.quantize import quantize_static_onnx
    from ...core.runtime.export import export_onnx

    cfg = loaded.metadata["detector_config"]
    graph = loaded.metadata["graph"].cpu().eval()
    from ...core.runtime.tiling import Tiling

    pixels = calibration_pixels(calib, cfg, tiling=Tiling.from_dict(loaded.metadata.get("tiling")))
    checks = [(torch.from_numpy(pixels[i : i + 8]),) for i in range(0, min(len(pixels), 32), 8)]
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        report = export_onnx(
            graph,
            checks[0],
            fp32,
            [INPUT_NAME],
            list(OUTPUT_NAMES),
            tolerance=1e-2,
            check_inputs=checks,
            compare=parity_compare,
        )
        model_file = fp32
        if int8:
            import onnx

            exclude = [
                n.name
                for n in onnx.load(str(fp32)).graph.node
                if n.op_type == "Conv" and any(h in n.name for h in HEAD_OUTPUT_CONVS)
            ]
            batches = ({INPUT_NAME: pixels[i : i + 16]} for i in range(0, len(pixels), 16))
            model_file = quantize_static_onnx(
                fp32, Path(tmp) / "int8.onnx", batches, method=calibration_method, exclude_nodes=exclude
            )
        onnx_bytes = model_file.read_bytes()
    return write_inspector_bundle(
        loaded,
        onnx_bytes,
        out,
        "int8" if int8 else "fp32",
        report.to_dict(),
        eval_data,
        eval_format,
        eval_split,
        model_name,
        score_threshold,
        extra_metrics,
        force,
    )


def write_inspector_bundle(
    loaded: DetectorBackend,
    onnx_bytes: bytes,
    out: Path,
    precision: str,
    export_report: dict,
    eval_data: Any = None,
    eval_format: str = "voc",
    eval_split: str = "all",
    model_name: str | None = None,
    score_threshold: float = 0.3,
    extra_metrics: dict | None = None,
    force: bool = False,
) -> Path:
    """Write ``onnx_bytes`` as an inspector bundle; metrics measured with the bundle's own model.

    Refuses (code 4110) a model whose training run failed, unless ``force``.
    """
    from ...core.runtime.bundle import write_bundle

    refuse_unlearned(loaded, force)

    cfg = loaded.metadata["detector_config"]
    manifest = {
        "application": "inspector",
        "task": "detection",
        "version": __version__,
        "model_name": model_name or f"inspector-{precision}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "precision": precision,
        "class_names": list(loaded.class_names),
        "preprocessing": {
            "size": cfg.input_size,
            "channels": cfg.in_channels,
            "resize": "pillow-bilinear",
            "pixel_range": [0, 255],
            "layout": "NCHW",
            "mean": list(cfg.mean),
            "std": list(cfg.std),
            **({"tiling": loaded.metadata["tiling"]} if loaded.metadata.get("tiling") else {}),
        },
        "postprocessing": {"score_threshold": score_threshold, "iou_threshold": 0.5, "max_detections": cfg.top_k},
        "input_spec": {
            "name": INPUT_NAME,
            "shape": ["batch", cfg.in_channels, cfg.input_size, cfg.input_size],
            "dtype": "float32",
        },
        "outputs": {"boxes": ["batch", cfg.top_k, 4], "scores": ["batch", cfg.top_k], "labels": ["batch", cfg.top_k]},
        "export": export_report | {"path": "model.onnx"},
        "detector": cfg.to_dict(),
        "split": loaded.metadata.get("split", {}),
        "training": {key: loaded.metadata[key] for key in ("resolution", "training_health") if key in loaded.metadata},
        "metrics": {},
    }
    if eval_data is not None:
        measured = evaluate_model(onnx_backend(onnx_bytes, loaded), eval_data, eval_format, eval_split)
        manifest["metrics"] = measured.to_dict()
        manifest["metrics"]["measured_with"] = f"this bundle ({manifest['precision']}, onnxruntime)"
    elif "test_metrics" in loaded.metadata:
        manifest["metrics"] = {**loaded.metadata["test_metrics"], "measured_with": "pytorch fp32 before export"}
    manifest["metrics"].update(extra_metrics or {})
    files = {"model.onnx": onnx_bytes}
    files["MODEL_CARD.md"] = _model_card(manifest, loaded.metadata).encode()
    return write_bundle(out, manifest, files)
