"""The heterogeneous GNN (GraphSAGE or GAT layers through ``HeteroConv``) and its training.

``FraudGNN`` is a plain ``nn.Module``: per-type input projections (the transaction
features' standardisation is a buffer of the module, so saved weights carry their
preprocessing), ``layers`` residual ``HeteroConv`` blocks, and a head scoring transaction
nodes. ``train_gnn`` handles class imbalance by a positive-class weight or a focal loss,
trains full-graph when the graph is untimed and small (one step = the whole graph), and
mini-batch over ``TemporalSampler`` neighbourhoods otherwise, keeping the epoch with the best
validation AUPRC. The loop is the core ``Trainer``'s (device, precision, progress, early
stopping, ``torchrun`` DDP).

Example:
    >>> model = FraudGNN({"txn": 33, "account": 1, "merchant": 1}, hidden=32)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ...errors import ErrorCode, RuntimeFailure, require
from .calibrate import auprc
from .graph import EDGE_TYPES


@dataclass
class GNNConfig:
    """GNN shape and training settings."""

    hidden: int = 64
    layers: int = 2
    conv: str = "sage"  # or "gat"
    dropout: float = 0.1
    loss: str = "weighted"  # or "focal"
    epochs: int = 30
    lr: float = 3e-3
    weight_decay: float = 1e-5
    batch_size: int = 1024
    num_neighbors: tuple[int, ...] = (10, 10)
    full_graph_max: int = 300_000  # untimed graphs up to this many transactions train full-graph
    patience: int = 8
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N (core.device)
    precision: str = "32"  # 32 | bf16 | 16

    def to_dict(self) -> dict:
        return {**asdict(self), "num_neighbors": list(self.num_neighbors)}


class FraudGNN(nn.Module):
    """Residual heterogeneous GNN over account / merchant / txn nodes; scores ``txn`` nodes."""

    def __init__(self, in_dims: dict[str, int], hidden: int = 64, layers: int = 2, conv: str = "sage", dropout=0.1):
        super().__init__()
        pyg = require("torch_geometric.nn", "fraud")
        self.register_buffer("mean", torch.zeros(in_dims["txn"]))
        self.register_buffer("std", torch.ones(in_dims["txn"]))
        self.proj = nn.ModuleDict({t: nn.Linear(d, hidden) for t, d in in_dims.items()})
        self.convs = nn.ModuleList()
        for _ in range(layers):
            if conv == "gat":
                make = lambda: pyg.GATConv((hidden, hidden), hidden, heads=1, add_self_loops=False)  # noqa: E731
            else:
                make = lambda: pyg.SAGEConv((hidden, hidden), hidden)  # noqa: E731
            self.convs.append(pyg.HeteroConv({et: make() for et in EDGE_TYPES}, aggr="sum"))
        self.norms = nn.ModuleList(nn.ModuleDict({t: nn.LayerNorm(hidden) for t in in_dims}) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def embed(self, x_dict: dict[str, torch.Tensor], edge_index_dict: dict) -> torch.Tensor:
        """The transaction embeddings (input projection next to the last layer's output)."""
        x_dict = {**x_dict, "txn": (x_dict["txn"] - self.mean) / self.std}
        h = {t: torch.relu(self.proj[t](x)) for t, x in x_dict.items()}
        first = h["txn"]
        for conv, norm in zip(self.convs, self.norms):
            out = conv(h, edge_index_dict)
            h = {t: norm[t](h[t] + self.dropout(torch.relu(out[t]))) if t in out else h[t] for t in h}
        return torch.cat([first, h["txn"]], dim=1)

    def forward(self, x_dict: dict[str, torch.Tensor], edge_index_dict: dict) -> torch.Tensor:
        return self.head(self.embed(x_dict, edge_index_dict)).squeeze(-1)


def _loss(logits: torch.Tensor, y: torch.Tensor, kind: str, pos_weight: float) -> torch.Tensor:
    if kind == "focal":
        p = torch.sigmoid(logits)
        ce = nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
        pt = torch.where(y > 0.5, p, 1 - p)
        alpha = torch.where(y > 0.5, 0.75, 0.25)
        return (alpha * (1 - pt) ** 2 * ce).mean()
    w = torch.tensor(pos_weight, device=logits.device)
    return nn.functional.binary_cross_entropy_with_logits(logits.float(), y, pos_weight=w)


def _is_full(data, cfg: GNNConfig) -> bool:
    return ("time" not in data["txn"]) and data["txn"].num_nodes <= cfg.full_graph_max


def predict_gnn(model: FraudGNN, data, index: torch.Tensor, cfg: GNNConfig, embed: bool = False) -> np.ndarray:
    """Scores (probabilities) or embeddings of transaction nodes ``index``."""
    model.eval()
    with torch.no_grad():
        if _is_full(data, cfg):
            fn = model.embed if embed else model
            out = fn(data.x_dict, data.edge_index_dict)[index]
            return (out if embed else torch.sigmoid(out)).numpy()
        from .sampler import make_loader

        loader = make_loader(data, list(cfg.num_neighbors), ("txn", index), batch_size=4096)
        parts = []
        for batch in loader:
            fn = model.embed if embed else model
            out = fn(batch.x_dict, batch.edge_index_dict)[: batch["txn"].batch_size]
            parts.append(out if embed else torch.sigmoid(out))
        return torch.cat(parts).numpy()


class GraphBatches:
    """One epoch's batches: the whole graph once (full-graph), or shuffled ``TemporalSampler`` neighbourhoods.

    Under DDP rank ``r`` of ``w`` takes every ``w``-th training transaction.
    """

    def __init__(self, data, train_idx: torch.Tensor, cfg: GNNConfig):
        self.data, self.train_idx, self.cfg = data, train_idx, cfg
        self.full = _is_full(data, cfg)

    def __call__(self, epoch: int, rank: int, world: int):
        idx = self.train_idx
        if world > 1:
            idx = idx[: len(idx) - len(idx) % world][rank::world]
        if self.full:
            yield idx
            return
        from .sampler import make_loader

        yield from make_loader(self.data, list(self.cfg.num_neighbors), ("txn", idx), self.cfg.batch_size, shuffle=True)

    def steps(self) -> int:
        return 1 if self.full else math.ceil(len(self.train_idx) / self.cfg.batch_size)


def train_gnn(data, train_idx: np.ndarray, val_idx: np.ndarray, cfg: GNNConfig, progress: bool = False):
    """Train a ``FraudGNN`` on labelled txn nodes; returns ``(model, history)``.

    ``data["txn"].y`` holds 0/1 labels; the best epoch by validation AUPRC is kept.
    """
    from ...core.train import TrainConfig, Trainer, TrainRecipe

    torch.manual_seed(cfg.seed)
    dims = {t: data[t].x.shape[1] for t in data.node_types}
    model = FraudGNN(dims, cfg.hidden, cfg.layers, cfg.conv, cfg.dropout)
    x = data["txn"].x[torch.as_tensor(train_idx)]
    model.mean.copy_(x.mean(0))
    model.std.copy_(x.std(0).clamp(min=1e-6))
    y = data["txn"].y
    y_train = y[torch.as_tensor(train_idx)]
    pos = float(y_train.sum())
    pos_weight = float(np.sqrt((len(y_train) - pos) / max(pos, 1.0)))
    batches = GraphBatches(data, torch.as_tensor(train_idx), cfg)
    on_device: dict = {}  # the full graph, moved once to the training device

    def loss_fn(net, batch):
        if batches.full:  # batch: this process's training transactions
            dev = batch.device
            if dev not in on_device:
                on_device.clear()
                on_device[dev] = data if dev.type == "cpu" else data.clone().to(dev)
            graph = on_device[dev]
            logits = net(graph.x_dict, graph.edge_index_dict)[batch]
            return _loss(logits, graph["txn"].y[batch], cfg.loss, pos_weight)
        n = batch["txn"].batch_size
        logits = net(batch.x_dict, batch.edge_index_dict)[:n]
        return _loss(logits, batch["txn"].y[:n], cfg.loss, pos_weight)

    val_t = torch.as_tensor(val_idx)

    def evaluate(m) -> dict:
        return {"val_auprc": auprc(y[val_t].numpy(), predict_gnn(m, data, val_t, cfg))}

    def diverged(loss: float) -> Exception:
        return RuntimeFailure(
            ErrorCode.FRAUD_TRAINING_DIVERGED, "GNN training diverged", value=loss, hint="lower the lr"
        )

    recipe = TrainRecipe(
        loss_fn=loss_fn,
        evaluate=evaluate,
        batches=batches,
        steps_per_epoch=batches.steps(),
        optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay),
        diverged=diverged,
        find_unused_parameters=True,  # the last layer's convolutions into account / merchant nodes feed no loss
    )
    config = TrainConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        grad_clip=0.0,
        seed=None,  # seeded above, before the weights were drawn
        out_dir=None,
        monitor="val_auprc",
        progress=progress,
        device=cfg.device,
        precision=cfg.precision,
        patience=cfg.patience,
        restore_best=True,
    )
    result = Trainer(config).run(model, recipe)
    on_device.clear()
    model.eval()
    history = [
        {k: r[k] for k in ("loss", "val_auprc", "train_seconds", "seconds")} | {"epoch": r["epoch"] - 1}
        for r in result.history
    ]
    return model, history
