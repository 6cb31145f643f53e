"""Quantization-aware fine-tuning: BatchNorm folding, fake-quant wrappers, and the pipeline's QAT step."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from deepseek_apps.core.compress.qat import ActivationFakeQuant, WeightFakeQuant, fake_quantized, fold_batchnorms


def _net():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )
    with torch.no_grad():  # non-trivial running statistics
        for bn in (net[1], net[4]):
            bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.uniform_(0.5, 1.5)
    return net.eval()


class _Branchy(nn.Module):
    """A graph fx cannot trace at the top (data-dependent branch) with a traceable child."""

    def __init__(self):
        super().__init__()
        self.body = _net()

    def forward(self, x, logits: bool = False):
        y = self.body(x)
        return y if logits else torch.softmax(y, 1)


def test_fold_batchnorms_keeps_outputs_and_removes_the_norms():
    net, x = _net(), torch.randn(4, 3, 8, 8)
    before = net(x)
    assert fold_batchnorms(net) == 2
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    torch.testing.assert_close(net(x), before, atol=1e-5, rtol=1e-4)


def test_fold_batchnorms_searches_children_of_an_untraceable_module():
    model = _Branchy().eval()
    x = torch.randn(2, 3, 8, 8)
    before = model(x)
    assert fold_batchnorms(model) == 2
    torch.testing.assert_close(model(x), before, atol=1e-5, rtol=1e-4)


def test_weight_fake_quant_rounds_to_the_per_channel_int8_grid():
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    q = WeightFakeQuant()(w)
    scale = w.detach().reshape(4, -1).abs().amax(1) / 127
    steps = q.detach().reshape(4, -1) / scale[:, None]
    torch.testing.assert_close(steps, steps.round(), atol=1e-3, rtol=0)
    assert (q - w).abs().max() <= scale.max() / 2 + 1e-6
    q.sum().backward()  # straight-through gradient
    torch.testing.assert_close(w.grad, torch.ones_like(w))


def test_activation_fake_quant_tracks_range_and_has_256_levels():
    fq = ActivationFakeQuant().train()
    x = torch.linspace(-1, 3, 1000)
    y = fq(x)
    assert fq.low.item() == pytest.approx(-1) and fq.high.item() == pytest.approx(3)
    assert len(torch.unique(y)) <= 256 and (y - x).abs().max() <= 4 / 255
    fq.eval()
    fq(torch.full((10,), 100.0))  # inference never moves the range
    assert fq.high.item() == pytest.approx(3)


def test_fake_quantized_trains_and_leaves_a_plain_model_with_rounded_weights():
    net = _net()
    x, y = torch.randn(64, 3, 8, 8), torch.randint(0, 3, (64,))
    with fake_quantized(net) as q:
        q.train()
        opt = torch.optim.Adam(q.parameters(), 1e-2)
        losses = []
        for _ in range(20):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(q(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert losses[-1] < losses[0]
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert not any(parametrize.is_parametrized(m) for m in convs)
    assert not any(hasattr(m, "act_fake_quant") for m in convs)
    for m in convs:
        flat = m.weight.detach().reshape(m.weight.shape[0], -1)
        steps = flat / (flat.abs().amax(1, keepdim=True) / 127)
        torch.testing.assert_close(steps, steps.round(), atol=1e-3, rtol=0)
    assert net.eval()(x).shape == (64, 3)


def test_pipeline_runs_quantization_aware_fine_tuning_when_asked(tmp_path):
    from deepseek_apps.core.compress.pipeline import OptimizeTarget, optimize
    from deepseek_apps.core.runtime.session import OrtSession

    net = _net()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 3, 8, 8)).astype(np.float32)
    y = net(torch.from_numpy(x)).argmax(1).numpy()  # the FP32 model's own labels: 100% before INT8
    calls = []

    def finetune(student, teacher):
        calls.append(sum(isinstance(m, nn.BatchNorm2d) for m in student.modules()))
        opt = torch.optim.Adam(student.parameters(), 1e-3)
        student.train()
        for _ in range(10):
            opt.zero_grad()
            nn.functional.cross_entropy(student(torch.from_numpy(x)), torch.from_numpy(y)).backward()
            opt.step()
        student.eval()

    target = OptimizeTarget(
        module=net,
        example_inputs=(torch.from_numpy(x[:2]),),
        input_names=["x"],
        output_names=["y"],
        calibration=[{"x": x[i : i + 32]} for i in range(0, 128, 32)],
        evaluate=lambda p: 100.0 * float(np.mean(OrtSession(p).run({"x": x})[0].argmax(1) == y)),
        finetune=finetune,
    )
    data, report = optimize(target, level=2, max_accuracy_drop=100.0, qat=True, repeat=5, progress=False)
    steps = [s.step for s in report.steps]
    assert "quantization-aware fine-tune" in steps and steps.count("int8") == 2
    assert calls == [0]  # the student had its BatchNorms folded before training
    assert any(n.op_type == "QuantizeLinear" for n in __import__("onnx").load_from_string(data).graph.node)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 2  # the user's model is untouched
