"""Training loop for DIN / BaseModel: Adam, BCE, mini-batch aware regularization, early stopping.

Samples live as tensors for the whole run and batches are index slices, so the loop spends
its time in the model rather than in a per-sample collate. Each epoch ends with AUC, GAUC
and log loss on the validation samples; the best epoch (by GAUC) is restored at the end.

Example:
    >>> from deepseek_apps.apps.recommender.train import TrainSettings, train_model  # doctest: +SKIP
    >>> history = train_model(model, splits, TrainSettings(epochs=3))  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
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
    out = []
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            idx = slice(start, start + batch_size)
            out.append(torch.sigmoid(model.logits(*data.batch(idx))[0]).numpy())
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


class EpochRunner:
    """One optimiser and the MBA frequency tables for a model; ``run`` does one pass over ``train``."""

    def __init__(self, model: DIN, train: TensorSamples, settings: TrainSettings):
        self.model, self.train, self.settings = model, train, settings
        self.opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
        self.gen = torch.Generator().manual_seed(settings.seed)
        items = torch.cat([train.item, train.hist_items.reshape(-1)])
        cats = torch.cat([train.category, train.hist_cats.reshape(-1)])
        self.inv_item = _inverse_counts(items, model.item_emb.num_embeddings)
        self.inv_cat = _inverse_counts(cats, model.cat_emb.num_embeddings)

    def step(self, idx: torch.Tensor) -> float:
        model, train = self.model, self.train
        feats = train.batch(idx)
        logit, _ = model.logits(*feats)
        loss = F.binary_cross_entropy_with_logits(logit, train.label[idx])
        if self.settings.mba_lambda:
            _, item, category, hist, hist_cats = feats
            pen = _mba_penalty(model, item, hist, category, hist_cats, self.inv_item, self.inv_cat)
            loss = loss + self.settings.mba_lambda * pen
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item()

    def run(self, desc: str = "train", limit: int | None = None) -> tuple[float, float]:
        """Mean loss and samples/s of one shuffled pass (``limit``: only the first ``limit`` samples)."""
        from tqdm.auto import tqdm

        self.model.train()
        bs = self.settings.batch_size
        perm = torch.randperm(len(self.train), generator=self.gen)[:limit]
        steps = math.ceil(len(perm) / bs)
        total, t0 = 0.0, time.perf_counter()
        bar = tqdm(range(steps), desc=desc, unit="batch", disable=not self.settings.progress, dynamic_ncols=True)
        for step in bar:
            total += self.step(perm[step * bs : (step + 1) * bs])
            if step % 50 == 0:
                bar.set_postfix(loss=f"{total / (step + 1):.4f}")
        bar.close()
        return total / max(steps, 1), len(perm) / (time.perf_counter() - t0)


def train_model(model: DIN, splits: SampleSplits, settings: TrainSettings, desc: str = "train") -> list[EpochLog]:
    """Train ``model`` in place on ``splits.train``; restores the best validation epoch (by GAUC)."""
    from .model import compiled_dice

    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    if settings.compile:
        compiled_dice(True)
    runner = EpochRunner(model, TensorSamples(splits.train, splits.catalog), settings)
    history: list[EpochLog] = []
    best, best_state, bad = -math.inf, None, 0
    for epoch in range(1, settings.epochs + 1):
        loss, rate = runner.run(f"{desc} {epoch}/{settings.epochs}")
        if not math.isfinite(loss):
            raise RuntimeFailure(
                ErrorCode.TRAINING_DIVERGED, "training loss is not finite", value=loss, hint="lower lr or mba_lambda"
            )
        valid = evaluate_model(model, splits.valid, splits.catalog) if len(splits.valid) else None
        history.append(EpochLog(epoch, loss, rate, valid))
        if settings.progress and valid:
            print(
                f"{desc} epoch {epoch}: loss {loss:.4f} valid AUC {valid.auc:.4f} GAUC {valid.gauc:.4f} "
                f"logloss {valid.log_loss:.4f} ({rate:,.0f} samples/s)"
            )
        score = valid.gauc if valid and not math.isnan(valid.gauc) else -loss
        if score > best:
            best, best_state, bad = score, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
            if bad >= settings.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
