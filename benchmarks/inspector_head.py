"""What the inspector's GroupNorm head costs in INT8: a BatchNorm head vs torchvision's GroupNorm head.

BatchNorm folds into the convolutions, so the whole head runs as fused integer kernels;
GroupNorm stays a float op between quantized convolutions (extra Q/DQ pairs). This is why
``optimize`` can swap GroupNorm for per-level BatchNorm (``fold_norms``). Both graphs have
random weights (latency does not depend on them); batch 1, 2 threads, each variant in its
own process.

    python benchmarks/inspector_head.py
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from deepseek_apps.apps.inspector.model import DetectorConfig, InspectorGraph, build_detector
from deepseek_apps.core.bench import cpu_info, measure_isolated, ratio_table, session_factory
from deepseek_apps.core.compress.quantize import quantize_static_onnx
from deepseek_apps.core.runtime.export import export_onnx


def main() -> None:
    torch.manual_seed(0)
    tmp = Path(tempfile.mkdtemp())
    x = torch.rand(16, 1, 192, 192) * 255
    fns, files = {}, {}
    for norm, convs in (("bn", 2), ("gn", 2), ("bn", 4), ("gn", 4)):
        cfg = replace(DetectorConfig(backbone="tiny"), head_norm=norm, head_convs=convs)
        graph = InspectorGraph(build_detector(cfg), cfg).eval()
        fp32 = tmp / f"{norm}{convs}.onnx"
        export_onnx(graph, (x[:1],), fp32, ["pixels"], ["boxes", "scores", "labels"], compare=lambda r, o: [0.0] * 3)
        batches = ({"pixels": x[i : i + 4].numpy()} for i in range(0, 16, 4))
        int8 = quantize_static_onnx(fp32, tmp / f"{norm}{convs}_int8.onnx", batches)
        for precision, path in (("fp32", fp32), ("int8", int8)):
            name = f"{norm.upper()} head x{convs} {precision}"
            fns[name] = session_factory(path)
            files[name] = path
    results = measure_isolated(fns, {"pixels": x[:1].numpy()}, rounds=20, per_round=10, files=files)
    print(cpu_info())
    print(ratio_table(results, "GN head x2 fp32"))


if __name__ == "__main__":
    main()
