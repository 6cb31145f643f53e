"""The shared training loop: convergence, best checkpoint, resume, bad loss, weight averaging."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from deepseek_apps.core.train import TrainConfig, Trainer
from deepseek_apps.core.train_state import WeightAverage
from deepseek_apps.errors import InvalidInputError, RuntimeFailure


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 4)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32) + 0.1
    items = list(zip(x, y))

    def collate(batch, rng):
        xs, ys = zip(*batch)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.array(ys))

    def loss_fn(model, batch):
        xb, yb = batch
        return nn.functional.mse_loss(model(xb).squeeze(-1), yb)

    xt, yt = torch.from_numpy(x[:64]), torch.from_numpy(y[:64])

    def evaluate(model):
        return {"neg_mse": -float(nn.functional.mse_loss(model(xt).squeeze(-1), yt))}

    return items, collate, loss_fn, evaluate


def _fit(out, epochs, stop_after=None, **kw):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    cfg = TrainConfig(
        epochs=epochs, batch_size=32, lr=0.05, out_dir=str(out), monitor="neg_mse", progress=False, threads=1, **kw
    )
    items, collate, loss_fn, evaluate = _problem()
    calls = []

    def evaluate_or_die(m):
        calls.append(1)
        if stop_after is not None and len(calls) > stop_after:
            raise KeyboardInterrupt  # the job is killed during epoch stop_after + 1
        return evaluate(m)

    result = Trainer(cfg).fit(model, items, collate, loss_fn, evaluate_or_die)
    return model, result


def test_learns_and_keeps_best(tmp_path):
    model, result = _fit(tmp_path, 6)
    assert len(result.history) == 6
    assert result.history[-1]["neg_mse"] > result.history[0]["neg_mse"]
    assert result.best_metric == max(h["neg_mse"] for h in result.history)
    assert (tmp_path / "best.safetensors").exists() and (tmp_path / "last_state.pt").exists()
    assert len(json.loads((tmp_path / "history.json").read_text())) == 6


def test_resume_matches_uninterrupted_run(tmp_path):
    straight, _ = _fit(tmp_path / "a", 4)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path / "b", 4, stop_after=2)
    resumed, result = _fit(tmp_path / "b", 4)  # the same command again
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    for (k, v), (_, w) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(v, w, atol=1e-6), k
    saved = load_file(str(tmp_path / "b" / "last.safetensors"))
    assert torch.allclose(saved["weight"], resumed.weight)


def test_no_resume_starts_over(tmp_path):
    _fit(tmp_path, 2)
    _, result = _fit(tmp_path, 1, resume=False)
    assert [h["epoch"] for h in result.history] == [1]


def test_non_finite_loss_is_reported(tmp_path):
    items, collate, _, evaluate = _problem()
    cfg = TrainConfig(epochs=1, out_dir=str(tmp_path), progress=False, threads=1)
    with pytest.raises(RuntimeFailure) as info:
        Trainer(cfg).fit(nn.Linear(4, 1), items, collate, lambda m, b: torch.tensor(float("nan")), evaluate)
    assert info.value.code == 4003


def test_weight_average_follows_its_formula():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.9, warmup=2)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model.train()
    model(torch.randn(8, 3))  # moves the BatchNorm statistics and its integer step count
    average.update(model)
    keep = 0.9 * (1 - np.exp(-1 / 2))
    now = model.state_dict()
    for key in ("0.weight", "0.bias", "1.running_mean", "1.running_var"):
        assert torch.allclose(average.shadow[key], keep * start[key] + (1 - keep) * now[key], atol=1e-6), key
    assert int(average.shadow["1.num_batches_tracked"]) == 1  # integers are copied, not averaged
    with average.applied(model):
        assert torch.equal(model[0].weight, average.shadow["0.weight"])
    assert torch.equal(model[0].weight, now["0.weight"])  # its own weights are back


def test_weight_average_rejects_a_decay_outside_0_1():
    with pytest.raises(InvalidInputError) as info:
        WeightAverage(nn.Linear(2, 1), decay=1.0)
    assert info.value.value == 1.0 and "0.998" in info.value.hint


def test_ema_judges_and_ends_with_the_averaged_weights(tmp_path):
    model, result = _fit(tmp_path, 3, ema=0.9)
    averaged = load_file(str(tmp_path / "ema.safetensors"))
    raw = load_file(str(tmp_path / "last.safetensors"))
    assert torch.equal(model.weight, averaged["weight"])  # the model ends with the average ...
    assert not torch.equal(raw["weight"], averaged["weight"])  # ... while the optimizer trained its own
    _, _, _, evaluate = _problem()
    assert result.history[-1]["neg_mse"] == pytest.approx(evaluate(model)["neg_mse"], rel=1e-6)  # judged on it
    best = nn.Linear(4, 1)
    best.load_state_dict(load_file(str(tmp_path / "best.safetensors")))  # the best epoch's average, as judged
    assert result.best_metric == pytest.approx(evaluate(best)["neg_mse"], rel=1e-6)


def test_ema_resume_matches_uninterrupted_run(tmp_path):
    straight, _ = _fit(tmp_path / "a", 4, ema=0.9)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path / "b", 4, stop_after=2, ema=0.9)
    resumed, _ = _fit(tmp_path / "b", 4, ema=0.9)
    for (k, v), (_, w) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(v, w, atol=1e-6), k


def test_checkpoints_follow_the_umask(tmp_path):
    import os
    import stat

    previous = os.umask(0o022)
    try:
        _fit(tmp_path, 1, ema=0.9)
    finally:
        os.umask(previous)
    for name in ("last.safetensors", "best.safetensors", "ema.safetensors", "last_state.pt"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))  # safetensors' save_file would give 0600
