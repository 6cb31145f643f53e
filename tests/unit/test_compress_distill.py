"""distill(): KD loss falls on a synthetic problem; token KD skips -100; feature adapters; sigmoid KD."""

import pytest
import torch
from torch import nn

from deepseek_apps.core.compress.distill import DistillReport, distill, kd_loss
from deepseek_apps.errors import ErrorCode, InvalidInputError


def _blobs(n: int = 256, classes: int = 4, dim: int = 8):
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(classes, dim, generator=gen) * 3
    y = torch.randint(0, classes, (n,), generator=gen)
    return centers[y] + torch.randn(n, dim, generator=gen), y


def _mlp(hidden: int, dim: int = 8, classes: int = 4) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def test_kd_loss_falls_on_synthetic_classification():
    torch.manual_seed(0)
    x, y = _blobs()
    teacher, student = _mlp(64), _mlp(8)
    opt = torch.optim.Adam(teacher.parameters(), 1e-2)
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(teacher(x), y).backward()
        opt.step()
    report = distill(teacher, student, (x, y), epochs=5, batch_size=32, lr=1e-2, progress=False)
    assert isinstance(report, DistillReport) and report.epochs == 5
    assert report.kd[-1] < 0.5 * report.kd[0]
    assert report.task[-1] < report.task[0]
    assert report.feature == [0.0] * 5 and len(report.seconds) == 5
    assert (student(x).argmax(1) == y).float().mean() > 0.9
    assert teacher.training and report.to_dict()["epochs"] == 5  # modes restored


def test_list_of_batches_and_pure_kd_without_targets():
    x, _ = _blobs(64)
    batches = [(x[i : i + 16], None) for i in range(0, 64, 16)]
    report = distill(_mlp(16), _mlp(8), batches, epochs=2, alpha=1.0, progress=False)
    assert report.task == [0.0, 0.0] and report.kd[0] > 0


def test_token_kd_ignores_minus_100_positions():
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 6, 5), torch.randn(2, 6, 5)
    targets = torch.tensor([[1, 2, -100, 0, -100, 3], [4, -100, -100, 1, 2, 0]])
    mask = targets != -100
    base = kd_loss(student, teacher, 2.0, mask)
    s2, t2 = student.clone(), teacher.clone()
    s2[~mask] = torch.randn(int((~mask).sum()), 5) * 10
    t2[~mask] = torch.randn(int((~mask).sum()), 5) * 10
    assert torch.allclose(kd_loss(s2, t2, 2.0, mask), base)
    assert not torch.allclose(kd_loss(s2, t2, 2.0), base)  # unmasked: the change shows

    class Tagger(nn.Module):
        def __init__(self, width: int):
            super().__init__()
            self.emb, self.out = nn.Embedding(20, width), nn.Linear(width, 5)

        def forward(self, ids):
            return self.out(self.emb(ids))

    ids = torch.randint(0, 20, (8, 6))
    labels = torch.randint(0, 5, (8, 6))
    labels[:, -2:] = -100
    report = distill(Tagger(32), Tagger(8), [(ids, labels)], epochs=3, lr=1e-2, progress=False)
    assert report.kd[-1] < report.kd[0]


class ConvNet(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 3))

    def forward(self, x):
        return self.head(self.features(x))


def test_feature_matching_creates_adapter_and_its_loss_falls():
    torch.manual_seed(0)
    x, y = torch.randn(32, 3, 8, 8), torch.randint(0, 3, (32,))
    report = distill(
        ConvNet(16),
        ConvNet(8),
        (x, y),
        epochs=6,
        batch_size=16,
        lr=1e-2,
        feature_pairs=[("features", "features.1")],
        progress=False,
    )
    assert report.adapters == ["features -> features.1 (8 -> 16 channels)"]
    assert report.feature[-1] < 0.7 * report.feature[0]


def test_sigmoid_kd_for_anchor_logits():
    torch.manual_seed(0)
    s, t = torch.randn(2, 10, 3), torch.randn(2, 10, 3)
    assert kd_loss(t, t, 2.0, kd="sigmoid").abs() < 1e-5  # a perfect match scores 0
    assert kd_loss(s, t, 2.0, kd="sigmoid") > 0

    class AnchorHead(nn.Module):
        def __init__(self, width: int):
            super().__init__()
            self.body, self.cls = nn.Conv2d(4, width, 3, padding=1), nn.Conv2d(width, 3, 1)

        def forward(self, x):
            logits = self.cls(torch.relu(self.body(x)))  # (N, C, H, W) -> (N, A, C)
            return logits.flatten(2).transpose(1, 2)

    x = torch.randn(16, 4, 6, 6)
    targets = (torch.rand(16, 36, 3) > 0.9).float()
    report = distill(AnchorHead(16), AnchorHead(4), [(x, targets)], epochs=4, lr=1e-2, kd="sigmoid", progress=False)
    assert report.kd[-1] < report.kd[0]


def test_argument_errors():
    teacher, student = _mlp(8), _mlp(8)
    data = [(torch.randn(4, 8), torch.randint(0, 4, (4,)))]
    bad = [
        {"kd": "l2"},
        {"alpha": 1.5},
        {"temperature": 0},
        {"epochs": 0},
        {"batch_size": 4},
        {"feature_pairs": [("nope", "0")]},
    ]
    for kwargs in bad:
        with pytest.raises(InvalidInputError) as e:
            distill(teacher, student, data, progress=False, **kwargs)
        assert e.value.code == ErrorCode.INVALID_ARGUMENT
    with pytest.raises(InvalidInputError) as e:
        distill(teacher, student, [], progress=False)
    assert e.value.code == ErrorCode.DATASET_EMPTY
    with pytest.raises(InvalidInputError, match="one-shot"):
        distill(teacher, student, iter(data), epochs=2, progress=False)


def test_cosine_schedule_decays_the_learning_rate_to_zero():
    torch.manual_seed(0)
    teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
    data = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(5)]
    original_step = torch.optim.AdamW.step
    lrs = []

    def recording_step(self, *args, **kwargs):
        lrs.append(self.param_groups[0]["lr"])
        return original_step(self, *args, **kwargs)

    torch.optim.AdamW.step = recording_step
    try:
        distill(teacher, student, data, epochs=4, lr=1e-2, progress=False, lr_schedule="cosine")
    finally:
        torch.optim.AdamW.step = original_step
    assert len(lrs) == 20 and lrs[0] == pytest.approx(1e-2)
    assert all(a >= b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 1e-3
    with pytest.raises(InvalidInputError) as info:
        distill(teacher, student, data, lr_schedule="linear", progress=False)
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and "linear" in str(info.value)
