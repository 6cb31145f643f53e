"""core.train.Trainer as the one engine: recipes, early stopping, best weights, exact resume, process groups."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deepseek_apps.core.device import cpu_has_bf16
from deepseek_apps.core.train import TrainConfig, Trainer, TrainRecipe
from deepseek_apps.errors import RuntimeFailure


class Draws:
    """Random regression batches from an RNG whose state is checkpointed (as the apps' batch sources are)."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def __call__(self, epoch, rank, world):
        for _ in range(4):
            x = torch.from_numpy(self.rng.normal(size=(16, 3)).astype(np.float32))
            yield x, x.sum(1, keepdim=True)

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["rng"]


def _recipe(draws, scores=None):
    calls = []

    def evaluate(model):
        calls.append(1)
        return {"score": scores[len(calls) - 1]} if scores else {}

    recipe = TrainRecipe(
        loss_fn=lambda net, b: nn.functional.mse_loss(net(b[0]), b[1]),
        evaluate=evaluate,
        batches=draws,
        steps_per_epoch=4,
        optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.05),
        batch_state=draws,
    )
    return recipe


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_early_stopping_and_restore_best_in_memory():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    seen = []
    cfg = TrainConfig(epochs=10, out_dir=None, progress=False, device="cpu", monitor="score", patience=2,
                      restore_best=True, grad_clip=0)  # fmt: skip

    def remember(out, state):
        seen.append(state["epoch"])
        if state["epoch"] == 2:
            remember.best = _params(model).clone()

    result = Trainer(cfg).run(model, _recipe(Draws(), scores=[0.1, 0.9, 0.5, 0.4, 0.95]), on_checkpoint=remember)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]  # two epochs without a better score
    assert result.best_epoch == 2 and result.best_metric == pytest.approx(0.9)
    assert seen == [1, 2, 3, 4]  # the hook runs once per epoch
    assert torch.equal(_params(model), remember.best)  # epoch 2's weights are back
    assert result.device == "cpu" and "train_seconds" in result.history[0]


def test_resume_from_a_checkpoint_is_exact(tmp_path):
    def train(epochs, out, seed_model=True):
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
        cfg = TrainConfig(epochs=epochs, out_dir=str(out), progress=False, device="cpu", seed=3)
        Trainer(cfg).run(model, _recipe(Draws()))
        return model

    straight = train(3, tmp_path / "a")
    train(2, tmp_path / "b")
    resumed = train(3, tmp_path / "b")  # picks up at epoch 3 with the optimizer and batch RNG state
    assert torch.equal(_params(straight), _params(resumed))
    assert (tmp_path / "b" / "best.safetensors").exists()


def test_an_existing_process_group_is_used_and_left_alone(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = nn.Linear(3, 1)
        cfg = TrainConfig(epochs=1, out_dir=None, progress=False, device="cpu")
        result = Trainer(cfg).run(model, _recipe(Draws()))
        assert len(result.history) == 1
        assert dist.is_initialized()  # the Trainer did not destroy a group it did not create
    finally:
        dist.destroy_process_group()


def test_fit_keeps_its_cpu_results_when_seeded():
    def fit():
        items = [(np.full(3, i, np.float32), float(i)) for i in range(32)]

        def collate(batch, rng):
            x = torch.from_numpy(np.stack([b[0] for b in batch]) + rng.normal(size=(len(batch), 3)).astype(np.float32))
            return x, torch.tensor([b[1] for b in batch]).unsqueeze(1)

        torch.manual_seed(0)
        model = nn.Linear(3, 1)
        cfg = TrainConfig(epochs=2, batch_size=8, lr=1e-2, out_dir=None, progress=False, device="cpu")
        Trainer(cfg).fit(model, items, collate, lambda n, b: nn.functional.mse_loss(n(b[0]), b[1]), lambda m: {})
        return _params(model)

    assert torch.equal(fit(), fit())


def test_bf16_on_a_cpu_without_it_fails_before_training():
    if cpu_has_bf16():
        pytest.skip("this CPU has bf16")
    cfg = TrainConfig(epochs=1, out_dir=None, progress=False, device="cpu", precision="bf16")
    with pytest.raises(RuntimeFailure) as info:
        Trainer(cfg).run(nn.Linear(3, 1), _recipe(Draws()))
    assert info.value.code == 4006


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["32", "bf16", "16"])
def test_cuda_training_in_each_precision_ends_on_the_cpu(precision):
    model = nn.Linear(3, 1)
    cfg = TrainConfig(epochs=2, out_dir=None, progress=False, device="cuda", precision=precision, grad_clip=1.0)
    result = Trainer(cfg).run(model, _recipe(Draws()))
    assert result.device.startswith("cuda") and result.history[-1]["loss"] < result.history[0]["loss"] * 1.5
    assert next(model.parameters()).device.type == "cpu"


def test_epoch_hooks_run_after_every_epoch_only_inside_their_block(tmp_path):
    from deepseek_apps.core.train import epoch_hook

    seen = []
    cfg = TrainConfig(epochs=3, out_dir=str(tmp_path), progress=False, device="cpu", grad_clip=0)
    with epoch_hook(lambda out, state: seen.append((out, state["epoch"]))):
        Trainer(cfg).run(nn.Linear(3, 1), _recipe(Draws()))
    assert seen == [(tmp_path, 1), (tmp_path, 2), (tmp_path, 3)]
    cfg.out_dir, cfg.epochs = None, 1
    Trainer(cfg).run(nn.Linear(3, 1), _recipe(Draws()))
    assert len(seen) == 3  # the block is over: the hook no longer runs
