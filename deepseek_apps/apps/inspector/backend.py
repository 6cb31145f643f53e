"""What runs an inspector model: one small interface over PyTorch, ONNX Runtime and OpenVINO.

``DetectorBackend`` is all that prediction, evaluation and export need from a model; the
functions below wrap each runtime in it. This module imports nothing else from the inspector
at module level, so every other module can depend on it without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...core.runtime.tiling import Tiling
from ...errors import ErrorCode, ModelFormatError

INPUT_NAME, OUTPUT_NAMES = "pixels", ("boxes", "scores", "labels")

Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class DetectorBackend:
    """A loaded detector, whatever runs it.

    Attributes:
        forward: ``(pixels float32 NCHW, 0..255) -> (boxes, scores, labels)``, top-k per image.
        class_names: names indexed by label.
        input_size: the model's square input side in pixels.
        channels: 1 (grayscale) or 3.
        metadata: the model's config or manifest; PyTorch models also carry ``torch_module``,
            ``detector_config`` and ``graph``.
    """

    forward: Forward
    class_names: tuple[str, ...]
    input_size: int
    channels: int
    metadata: dict = field(default_factory=dict)

    @property
    def is_torch(self) -> bool:
        """True when the weights are a PyTorch module (needed by save-as-weights, export, optimize)."""
        return "torch_module" in self.metadata

    def require_torch(self, what: str, source: Any = None) -> None:
        """Raise our coded error when ``what`` needs PyTorch weights and this is a bundle."""
        if not self.is_torch:
            raise ModelFormatError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"{what} needs a PyTorch model, not an edge bundle",
                value=str(source if source is not None else self.metadata.get("bundle")),
                hint="load a training folder or a saved model, QualityInspector.pretrained('neu_det-torch'), "
                "or call fit() first",
            )


def model_tiling(metadata: dict) -> Tiling | None:
    """The tiling a model was trained with: ``tiling`` of its config, or ``preprocessing.tiling`` of its bundle."""
    return Tiling.from_dict(metadata.get("tiling") or metadata.get("preprocessing", {}).get("tiling"))


def torch_backend(model, cfg, class_names, meta: dict, device: str = "cpu", threads: int = 2) -> DetectorBackend:
    """Wrap a trained ``FCOS`` and its ``DetectorConfig`` (PyTorch runs it)."""
    import torch

    from .model import InspectorGraph

    torch.set_num_threads(threads)
    graph = InspectorGraph(model, cfg).eval().to(device)

    def forward(pixels: np.ndarray):
        with torch.no_grad():
            b, s, lab = graph(torch.from_numpy(pixels).to(device))
        return b.cpu().numpy(), s.cpu().numpy(), lab.cpu().numpy()

    metadata = {**meta, "torch_module": model, "detector_config": cfg, "graph": graph, "backend": "torch"}
    return DetectorBackend(forward, tuple(class_names), cfg.input_size, cfg.in_channels, metadata)


def bundle_backend(path: Path, threads: int = 2, backend: str = "onnxruntime") -> DetectorBackend:
    """Open an edge bundle (ONNX Runtime or OpenVINO)."""
    from ...core.runtime.edge import EdgeRuntime

    runtime = EdgeRuntime(path, threads=threads, backend=backend)
    manifest = runtime.bundle.manifest
    if manifest["application"] != "inspector":
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"bundle is for '{manifest['application']}'",
            value=str(path),
            hint="load it with the matching application",
        )

    def forward(pixels: np.ndarray):
        return tuple(runtime.forward(pixels))

    metadata = {**manifest, "backend": backend, "bundle": str(path)}
    return DetectorBackend(forward, tuple(runtime.class_names), runtime.size, runtime.channels, metadata)


def onnx_backend(onnx_bytes: bytes, like: DetectorBackend, threads: int = 2) -> DetectorBackend:
    """Run an exported ONNX graph of ``like`` in ONNX Runtime (to measure a bundle before it is written)."""
    from ...core.runtime.session import OrtSession

    session = OrtSession(onnx_bytes, threads=threads)
    return DetectorBackend(
        lambda x: tuple(session.run({INPUT_NAME: x})),
        like.class_names,
        like.input_size,
        like.channels,
        {"split": like.metadata.get("split", {}), "tiling": like.metadata.get("tiling")},
    )
