"""QualityInspector.predict over every supported input kind, and its errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from deepseek_apps import Inspection, QualityInspector
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode


@pytest.fixture(scope="module")
def inspector():
    return QualityInspector(confidence_threshold=0.2)


def test_default_loads_and_returns_typed_results(inspector, sample_images):
    results = inspector.predict(sample_images)
    assert len(results) == len(sample_images)
    for r in results:
        assert isinstance(r, Inspection)
        assert r.verdict in ("OK", "NG") and r.ok == (not r.defects)
        assert r.latency_ms > 0
        for d in r.defects:
            assert d.label in inspector.class_names and 0.2 <= d.score <= 1
            x0, y0, x1, y1 = d.box
            assert 0 <= x0 <= x1 <= r.width and 0 <= y0 <= y1 <= r.height
        assert set(r.to_dict()) >= {"verdict", "defects", "latency_ms", "source"}


def test_every_input_kind_and_mixed_sizes(inspector, sample_images, tmp_path):
    pil = sample_images[0]
    path = tmp_path / "a.png"
    pil.save(path)
    gray = np.asarray(pil.convert("L"))
    rgba = np.asarray(pil.convert("RGBA"))
    chw = torch.from_numpy(np.asarray(pil)).permute(2, 0, 1).contiguous()
    big = pil.resize((400, 300))
    inputs = [str(path), path, pil, gray, gray[..., None], np.asarray(pil), rgba, chw, big]
    results = inspector.predict(inputs)
    assert [r.error for r in results] == [None] * len(inputs)
    ref = results[2]
    for r in results[:7]:  # the same pixels give the same defects, whatever the container
        assert [d.label for d in r.defects] == [d.label for d in ref.defects]
        assert np.allclose([d.box for d in r.defects], [d.box for d in ref.defects], atol=1.5)
    assert (results[-1].width, results[-1].height) == (400, 300)
    if ref.defects and results[-1].defects:  # boxes come back in the input's own pixels
        assert max(d.box[2] for d in results[-1].defects) > max(d.box[2] for d in ref.defects) * 1.2


def test_batching_is_real(sample_images):
    inspector = QualityInspector(batch_size=4)
    model = inspector.model_
    calls = []
    forward = model.forward
    model.forward = lambda pixels: calls.append(len(pixels)) or forward(pixels)
    inspector.predict(sample_images + sample_images[:4])  # 10 images
    assert calls == [4, 4, 2]


def _truncated_png(tmp_path):
    buf = tmp_path / "full.png"
    Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)).save(buf)
    data = buf.read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    return tmp_path / "trunc.png"


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda t: t / "missing.png", ErrorCode.FILE_NOT_FOUND),
        (lambda t: (t / "junk.png").write_bytes(b"not an image") and t / "junk.png", ErrorCode.IMAGE_UNREADABLE),
        (_truncated_png, ErrorCode.IMAGE_UNREADABLE),
        (lambda t: np.zeros((0, 10), np.uint8), ErrorCode.IMAGE_EMPTY),
        (lambda t: np.zeros((10, 10), np.float64), ErrorCode.IMAGE_DTYPE),
        (lambda t: np.zeros((10, 10, 7), np.uint8), ErrorCode.IMAGE_SHAPE),
        (lambda t: np.zeros((8000, 7000), np.uint8), ErrorCode.IMAGE_TOO_LARGE),
        (lambda t: 42, ErrorCode.IMAGE_TYPE),
    ],
)
def test_bad_images_raise_our_error_with_code(inspector, tmp_path, make, code):
    bad = make(tmp_path)
    with pytest.raises(DeepSeekAppsError) as info:
        inspector.predict([bad])
    assert info.value.code == code
    recorded = inspector.predict([np.zeros((32, 32), np.uint8), bad], errors="record")
    assert recorded[0].error is None and recorded[1].error["code"] == code
    assert recorded[1].verdict == "ERROR"


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(DeepSeekAppsError) as info:
        QualityInspector(model_path=tmp_path / "nope").predict(np.zeros((8, 8), np.uint8))
    assert info.value.code == ErrorCode.FILE_NOT_FOUND and "nope" in str(info.value)


@pytest.mark.parametrize("kwargs", [{"confidence_threshold": 1.5}, {"iou_threshold": 0}, {"batch_size": 0}])
def test_bad_parameters_are_reported_on_use(kwargs):
    inspector = QualityInspector(**kwargs)  # __init__ only stores, like scikit-learn
    with pytest.raises(DeepSeekAppsError) as info:
        inspector.predict(np.zeros((8, 8), np.uint8))
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and next(iter(kwargs)) in str(info.value)


def test_the_shipped_bundle_saves_as_a_bundle_folder_and_refuses_export(sample_images, tmp_path):
    default = QualityInspector(confidence_threshold=0.2)
    folder = default.save(tmp_path / "saved")
    assert (folder / "manifest.json").is_file() and (folder / "model.onnx").is_file()
    again = QualityInspector.load(folder, confidence_threshold=0.2)
    assert [r.to_dict()["defects"] for r in again.predict(sample_images[:2])] == [
        r.to_dict()["defects"] for r in default.predict(sample_images[:2])
    ]
    with pytest.raises(DeepSeekAppsError) as info:
        default.export(tmp_path / "b.zip")  # a bundle has no PyTorch weights to export
    assert info.value.code == ErrorCode.UNSUPPORTED_FORMAT and "neu_det-torch" in str(info.value)


def test_errors_mode_is_checked_and_load_fails_at_once(tmp_path):
    with pytest.raises(DeepSeekAppsError) as info:
        QualityInspector().predict([np.zeros((8, 8), np.uint8)], errors="ignore")
    assert info.value.code == ErrorCode.INVALID_ARGUMENT
    with pytest.raises(DeepSeekAppsError) as info:
        QualityInspector.load(tmp_path / "nope")  # eager, unlike QualityInspector(model_path=...)
    assert info.value.code == ErrorCode.FILE_NOT_FOUND
