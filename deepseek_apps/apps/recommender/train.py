"""Training of DIN / BaseModel on the core ``Trainer``: Adam, BCE, mini-batch aware regularization, early stopping.

Samples live as tensors for the whole run and batches are index slices, so the loop spends
its time in the model rather than in a per-sample collate. Each epoch ends with AUC, GAUC
and log loss on the validation samples; the best epoch (by GAUC) is restored at the end.
The ``Trainer`` brings the device (``settings.device``), mixed precision, the progress bar,
early stopping, ``torchrun`` DDP and, with ``settings.out_dir``, checkpoints and exact resume.

Example:
    >>> from deepseek_apps.apps.recommender.train import TrainSettings, train_model  # doctest: +SKIP
    >>> history = train_model(model, splits, TrainSettings(epochs=3))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...errors import ErrorCode, RuntimeFailure
from .data import Catalog, Samples, SampleSplits
from .metrics import RankingMetrics, evaluate_scores
from .model import DIN


@dataclass
class TrainSettings:
    """Optimisation settings (the CLI maps its flags onto these names)."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    mba_lambda: float = 0.0  # mini-batch aware L2 on the embedding rows a batch uses, / item frequency
    patience: int = 2  # epochs without a better validation GAUC before stopping
    seed: int = 0
    threads: int | None = None
    progress: bool = True
    compile: bool = False  # torch.compile Dice's training step (faster after a one-off compile)
    device: str = "auto"  # auto | cpu | cuda | cuda:N (core.device)
    precision: str = "32"  # 32 | bf16 | 16
    out_dir: str | None = None  # checkpoints + exact resume there (None: best weights kept in memory)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EpochLog:
    epoch: int
    train_loss: float
    samples_per_s: float
    valid: RankingMetrics | None

    def to_dict(self) -> dict:
        return {**asdict(self), "valid": self.valid.to_dict() if self.valid else None}


class TensorSamples:
    """``Samples`` as int64 tensors plus the user feature table, for slicing batches."""

    def __init__(self, samples: Samples, catalog: Catalog):
        self.user = torch.from_numpy(samples.user.astype(np.int64))
        self.item = torch.from_numpy(samples.item.astype(np.int64))
        self.category = torch.from_numpy(samples.category.astype(np.int64))
        self.hist_items = torch.from_numpy(samples.hist_items.astype(np.int64))
        self.hist_cats = torch.from_numpy(samples.hist_cats.astype(np.int64))
        self.label = torch.from_numpy(samples.label.astype(np.float32))
        self.user_table = torch.from_numpy(catalog.user_feature_codes.astype(np.int64))
        self.users_np = samples.user

    def __len__(self) -> int:
        return len(self.label)

    def batch(self, idx) -> tuple[torch.Tensor, ...]:
        return (
            self.user_table[self.user[idx]],
            self.item[idx],
            self.category[idx],
            self.hist_items[idx],
            self.hist_cats[idx],
        )


def predict_samples(model: DIN, data: TensorSamples, batch_size: int = 4096) -> np.ndarray:
    """Click probabilities of every sample (eval mode, no grad)."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            idx = slice(start, start + batch_size)
            feats = [t.to(device) for t in data.batch(idx)]
            out.append(torch.sigmoid(model.logits(*feats)[0]).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def evaluate_model(model: DIN, samples: Samples, catalog: Catalog) -> RankingMetrics:
    data = TensorSamples(samples, catalog)
    return evaluate_scores(samples.label, predict_samples(model, data), samples.user)


def _mba_penalty(model: DIN, item, hist, category, hist_cats, inv_item, inv_cat) -> torch.Tensor:
    """Paper eq. (4): sum over rows used in this batch of ||w_j||^2 / n_j."""
    items = torch.unique(torch.cat([item, hist.reshape(-1)]))
    cats = torch.unique(torch.cat([category, hist_cats.reshape(-1)]))
    pen = (inv_item[items] * model.item_emb.weight[items].pow(2).sum(1)).sum()
    return pen + (inv_cat[cats] * model.cat_emb.weight[cats].pow(2).sum(1)).sum()


def _inverse_counts(ids: torch.Tensor, size: int) -> torch.Tensor:
    counts = torch.bincount(ids.reshape(-1), minlength=size).float()
    inv = 1.0 / counts.clamp(min=1.0)
    inv[0] = 0.0
    return inv


class SliceBatches:
    """A shuffled pass over ``train`` per epoch, as index slices (rank ``r`` of ``w`` takes every ``w``-th sample)."""

    def __init__(self, train: TensorSamples, batch_size: int, seed: int):
        self.train, self.batch_size = train, batch_size
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, epoch: int, rank: int, world: int):
        perm = torch.randperm(len(self.train), generator=self.gen)
        if world > 1:  # the same number of batches on every rank
            perm = perm[: len(perm) - len(perm) % world][rank::world]
        bs = self.batch_size
        for step in range(math.ceil(len(perm) / bs)):
            idx = perm[step * bs : (step + 1) * bs]
            yield (*self.train.batch(idx), self.train.label[idx])

    def steps(self, world: int = 1) -> int:
        return math.ceil((len(self.train) // world) / self.batch_size)

    def state_dict(self) -> dict:
        return {"generator": self.gen.get_state().tolist()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(torch.tensor(state["generator"], dtype=torch.uint8))


class LogitsView(nn.Module):
    """The model's click logits as its ``forward`` (what DDP wraps; the model's own forward gives probabilities)."""

    def __init__(self, model: DIN):
        super().__init__()
        self.model = model

    def forward(self, *feats: torch.Tensor) -> torch.Tensor:
        return self.model.logits(*feats)[0]


def training_recipe(model: DIN, splits: SampleSplits, settings: TrainSettings):
    """The recommender's ``TrainRecipe``: Adam, BCE (+ MBA), GAUC on validation as the score."""
    from ...core.train import TrainRecipe

    train = TensorSamples(splits.train, splits.catalog)
    items = torch.cat([train.item, train.hist_items.reshape(-1)])
    cats = torch.cat([train.category, train.hist_cats.reshape(-1)])
    inv_item = _inverse_counts(items, model.item_emb.num_embeddings)
    inv_cat = _inverse_counts(cats, model.cat_emb.num_embeddings)
    batches = SliceBatches(train, settings.batch_size, settings.seed)

    def loss_fn(net, batch):
        *feats, label = batch
        loss = F.binary_cross_entropy_with_logits(net(*feats).float(), label)
        if settings.mba_lambda:
            _, item, category, hist, hist_cats = feats
            dev = item.device
            pen = _mba_penalty(model, item, hist, category, hist_cats, inv_item.to(dev), inv_cat.to(dev))
            loss = loss + settings.mba_lambda * pen
        return loss

    def evaluate(m) -> dict:
        return evaluate_model(m, splits.valid, splits.catalog).to_dict() if len(splits.valid) else {}

    def score(record: dict) -> float:
        gauc = record.get("gauc", math.nan)
        return -record["loss"] if math.isnan(gauc) else gauc

    def diverged(loss: float) -> Exception:
        return RuntimeFailure(
            ErrorCode.TRAINING_DIVERGED, "training loss is not finite", value=loss, hint="lower lr or mba_lambda"
        )

    return TrainRecipe(
        loss_fn=loss_fn,
        evaluate=evaluate,
        batches=batches,
        steps_per_epoch=batches.steps(),
        optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=settings.lr),
        score=score,
        batch_state=batches,
        module=LogitsView(model),
        diverged=diverged,
    )


def train_model(model: DIN, splits: SampleSplits, settings: TrainSettings, desc: str = "train") -> list[EpochLog]:
    """Train ``model`` in place on ``splits.train``; restores the best validation epoch (by GAUC)."""
    from ...core.train import TrainConfig, Trainer
    from .model import compiled_dice

    if settings.compile:
        compiled_dice(True)
    config = TrainConfig(
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lr=settings.lr,
        grad_clip=0.0,
        seed=settings.seed,
        threads=settings.threads,
        out_dir=settings.out_dir,
        resume=settings.out_dir is not None,
        progress=settings.progress,
        device=settings.device,
        precision=settings.precision,
        patience=settings.patience,
        restore_best=True,
    )
    result = Trainer(config).run(model, training_recipe(model, splits, settings))
    model.eval()
    n_train = len(splits.train)
    fields = ("auc", "gauc", "log_loss", "samples")
    return [
        EpochLog(
            r["epoch"],
            r["loss"],
            n_train / max(r["train_seconds"], 1e-9),
            RankingMetrics(**{k: r[k] for k in fields}) if "auc" in r else None,
        )
        for r in result.history
    ]
