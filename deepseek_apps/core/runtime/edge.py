"""Run an edge bundle with numpy, Pillow and onnxruntime only (no PyTorch on this path).

``backend="openvino"`` runs the same ONNX file with OpenVINO instead (the ``openvino``
extra). On CPUs with AMX it runs INT8 QDQ models on AMX tiles and can be much faster
(the README's compression tables); elsewhere ONNX Runtime is usually the faster one.

Example:
    >>> from deepseek_apps.core.runtime.edge import EdgeRuntime
    >>> runtime = EdgeRuntime("bundle.zip")  # doctest: +SKIP
    >>> detections = runtime.predict(["part_001.png"])  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ...errors import ErrorCode, InvalidInputError, ModelFormatError
from .bundle import Bundle, read_bundle
from .bundle_manifest import validate_manifest
from .preprocess import decode_image, to_8bit
from .session import create_session
from .tiling import Tiling, detect_images


@dataclass
class EdgeDetections:
    """Detections of one image in original-image pixels."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: list[str]
    latency_ms: float = 0.0
    size: tuple[int, int] = (0, 0)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "defects": [
                {"label": lab, "score": round(float(s), 5), "box": [round(float(v), 2) for v in b]}
                for b, s, lab in zip(self.boxes, self.scores, self.labels)
            ],
            "latency_ms": round(self.latency_ms, 3),
        }


class EdgeRuntime:
    """Verify a bundle, open it in ONNX Runtime (or OpenVINO) and run pre-processing, model and NMS.

    Args:
        bundle: a bundle ``.zip`` / folder, or a ``Bundle`` already read.
        threads: inference threads.
        score_threshold: detections below it are dropped (default: the manifest's).
        backend: ``"onnxruntime"`` or ``"openvino"``.
        trusted_keys: public keys the bundle's signature must verify with (None: not checked).
        key: the AES key of an encrypted bundle (None: ``$DEEPSEEK_APPS_BUNDLE_KEY``).
    """

    backends = ("onnxruntime", "openvino")

    def __init__(
        self,
        bundle: str | Path | Bundle,
        threads: int = 2,
        score_threshold: float | None = None,
        backend: str = "onnxruntime",
        *,
        trusted_keys: Any = None,
        key: Any = None,
    ):
        if backend not in self.backends:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"unknown edge backend '{backend}'",
                value=backend,
                hint=f"use one of: {', '.join(self.backends)}",
            )
        if isinstance(bundle, Bundle):
            self.bundle = bundle
            validate_manifest(bundle.manifest, bundle.source)  # a Bundle built by hand gets the same checks
        else:
            self.bundle = read_bundle(bundle, trusted_keys=trusted_keys, key=key)
        manifest = self.bundle.manifest
        if manifest.get("task") != "detection":
            raise ModelFormatError(
                ErrorCode.UNSUPPORTED_FORMAT,
                "edge runtime supports detection bundles",
                value=manifest.get("task"),
                hint="use the app's own runtime for this bundle",
            )
        self.class_names = list(manifest["class_names"])
        pre = manifest["preprocessing"]
        self.size, self.channels = int(pre["size"]), int(pre["channels"])
        self.tiling = Tiling.from_dict(pre.get("tiling"))  # large images: tiles at native resolution
        post = manifest.get("postprocessing", {})
        self.score_threshold = post.get("score_threshold", 0.3) if score_threshold is None else score_threshold
        self.iou_threshold = post.get("iou_threshold", 0.5)
        self.max_detections = post.get("max_detections", 100)
        self.backend = backend
        self.session = create_session(self.bundle.model_bytes, backend, threads)
        self.input_name = self.session.input_names[0]

    def forward(self, pixels: np.ndarray) -> list[np.ndarray]:
        """Raw graph outputs for a float32 ``(N, C, S, S)`` batch of 0..255 pixels."""
        return self.session.run({self.input_name: pixels})

    def predict(self, images: Sequence[str | Path | Image.Image]) -> list[EdgeDetections]:
        pils = [self._open(im) for im in images]
        t0 = time.perf_counter()
        found = detect_images(
            pils,
            self.forward,
            self.size,
            self.channels,
            self.tiling,
            self.score_threshold,
            self.iou_threshold,
            self.max_detections,
        )
        results = [EdgeDetections(b, s, self._labels(lab), size=p.size) for p, (b, s, lab) in zip(pils, found)]
        per_image = (time.perf_counter() - t0) * 1000 / max(1, len(pils))
        for r in results:
            r.latency_ms = per_image
        return results

    def _labels(self, indices: np.ndarray) -> list[str]:
        """Class names of the graph's label indices; an index the manifest has no name for is a coded error."""
        bad = [int(i) for i in indices if not 0 <= int(i) < len(self.class_names)]
        if bad:
            raise ModelFormatError(
                ErrorCode.BUNDLE_MANIFEST_INVALID,
                f"the model predicts class {bad[0]} but the manifest names {len(self.class_names)} classes",
                value=self.bundle.source,
                hint="class_names does not match the model; re-export the bundle",
            )
        return [self.class_names[int(i)] for i in indices]

    @staticmethod
    def _open(image: str | Path | Image.Image) -> Image.Image:
        if isinstance(image, Image.Image):
            return to_8bit(image).convert("RGB")
        return decode_image(image)  # size checked before decoding (1005), 16-bit scaled, Pillow errors coded (1001)
