"""The detector's box branch: torchvision's outputs, but a dead distance channel can come back in training."""

from __future__ import annotations

import torch
from torchvision.models.detection.fcos import FCOSRegressionHead

from deepseek_apps.apps.inspector.model import BoxRegressionHead, DetectorConfig, build_detector


def _heads():
    torch.manual_seed(0)
    ours = BoxRegressionHead(16, 1, num_convs=1, norm_layer=lambda c: torch.nn.GroupNorm(4, c))
    theirs = FCOSRegressionHead(16, 1, num_convs=1, norm_layer=lambda c: torch.nn.GroupNorm(4, c))
    theirs.load_state_dict(ours.state_dict())  # the same parameter names: checkpoints load either way
    with torch.no_grad():  # the top-distance channel negative everywhere: dead under a plain ReLU
        for head in (ours, theirs):
            head.bbox_reg.bias[1] = -50.0
    return ours, theirs


FEATURES = [torch.randn(2, 16, 8, 8), torch.randn(2, 16, 4, 4)]


def test_outputs_are_torchvisions_in_both_modes():
    ours, theirs = _heads()
    for train in (False, True):
        ours.train(train), theirs.train(train)
        for a, b in zip(ours(FEATURES), theirs(FEATURES)):
            torch.testing.assert_close(a, b)
    assert (ours(FEATURES)[0][..., 1] == 0).all()  # the dead channel's distances are 0, as before


def test_a_dead_channel_still_gets_gradient_in_training():
    ours, theirs = _heads()
    grads = {}
    for name, head in (("ours", ours), ("theirs", theirs)):
        head.train()
        distances, _ = head(FEATURES)
        (-distances[..., 1].sum()).backward()  # a loss that wants taller boxes
        grads[name] = head.bbox_reg.bias.grad[1].item()
    assert grads["theirs"] == 0.0  # torchvision's ReLU: the channel never moves again
    assert grads["ours"] < 0.0  # ours: gradient descent raises the bias, the channel can revive


def test_the_detector_uses_it():
    cfg = DetectorConfig(input_size=64, backbone="tiny", head_convs=1)
    assert isinstance(build_detector(cfg).head.regression_head, BoxRegressionHead)
