"""The relation-aware, heterophily-aware GNN of the entity task, trained full-graph by ``core.train``.

Each relation channel has its own convolution (the relation's own edge type, not a one-hot
channel). Following H2GCN / GraphSAGE, a node's own representation and the mean of its
neighbours' are kept apart and concatenated before the channel's linear map, so a fraudster
that links to many benign nodes (camouflage) is not averaged into them. Per node, a learned
attention weighs the channels; the output reads the concatenation of every layer's
representation (H2GCN's combination of intermediate layers).

Training uses the whole graph in one step per epoch through ``core.train.Trainer.run`` (the
best validation AUPRC epoch is restored). Under DDP (``torchrun``, Ray Train) every process
runs the whole graph and takes the loss of its share of the training nodes (rank ``r`` of
``w``: every ``w``-th), so the averaged gradients are the whole graph's. The same layers score new
nodes online from the cached layer states of the fitted graph (``forward_rows``).

Example:
    >>> net = RelationGNN(4, ["knows"], hidden=8, layers=2)
    >>> x = torch.zeros(3, 4); adj = [mean_adjacency(np.array([0, 1]), np.array([1, 0]), 3, 3)]
    >>> net(x, adj).shape
    torch.Size([3])
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from ....core.metrics import average_precision
from ....core.train import TrainConfig, Trainer, TrainRecipe, warmup_cosine


def mean_adjacency(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> MeanAdjacency:
    """The row-normalised (mean over neighbours) sparse matrix of one channel."""
    deg = np.bincount(rows, minlength=n_rows).astype(np.float32)
    values = torch.from_numpy(1.0 / np.maximum(deg[rows], 1.0))
    idx = torch.from_numpy(np.stack([rows, cols]).astype(np.int64))
    with warnings.catch_warnings():  # "sparse CSR is beta": the product of CSR and dense is all we use
        warnings.simplefilter("ignore", UserWarning)
        return MeanAdjacency(torch.sparse_coo_tensor(idx, values, (n_rows, n_cols)).coalesce().to_sparse_csr())


class _SparseProduct(torch.autograd.Function):
    """``matrix @ h``, differentiated in ``h`` only, with the transpose given: PyTorch's own
    backward of a CSR product rebuilds the transpose on every call (5.6x slower for a step on
    300k nodes and 1.2M edges)."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, matrix: torch.Tensor, transposed: torch.Tensor) -> torch.Tensor:
        ctx.transposed = transposed
        return matrix @ h

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return ctx.transposed @ grad, None, None


class MeanAdjacency:
    """A channel's mean adjacency (CSR); ``adj @ h`` as for a tensor, gradients flow to ``h``.

    The transpose, which the backward pass needs, is built once on the first product that
    needs a gradient and kept (it doubles the matrix's memory: 12 bytes per edge).
    """

    def __init__(self, matrix: torch.Tensor):
        self.matrix = matrix
        self.transposed: torch.Tensor | None = None

    @property
    def shape(self) -> torch.Size:
        return self.matrix.shape

    def __matmul__(self, h: torch.Tensor) -> torch.Tensor:
        if not (torch.is_grad_enabled() and h.requires_grad):
            return self.matrix @ h
        if self.transposed is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self.transposed = self.matrix.t().to_sparse_csr()
        return _SparseProduct.apply(h, self.matrix, self.transposed)


class RelationLayer(nn.Module):
    """Per channel ``relu(W_r [h ; mean_r(h)])``, combined by per-node attention over channels."""

    def __init__(self, hidden: int, n_channels: int):
        super().__init__()
        self.self_only = nn.Linear(hidden, hidden)
        self.per_channel = nn.ModuleList(nn.Linear(2 * hidden, hidden) for _ in range(n_channels))
        self.att = nn.Linear(hidden, hidden)
        self.query = nn.Linear(hidden, 1, bias=False)

    def forward(self, h: torch.Tensor, msgs: list[torch.Tensor]) -> torch.Tensor:
        if not msgs:
            return torch.relu(self.self_only(h))
        z = torch.relu(self.pre_activation(h, msgs))
        beta = torch.softmax(self.query(torch.tanh(self.att(z))), dim=1)  # (n, channels, 1)
        return (beta * z).sum(1)

    def pre_activation(self, h: torch.Tensor, msgs: list[torch.Tensor]) -> torch.Tensor:
        """``(n, channels, hidden)``: ``W_r [h ; m_r] + b_r`` of every channel, as ``W_r^self h + W_r^nbr m_r + b_r``.

        The same numbers as concatenating, without the ``(n, 2 hidden)`` copy per channel that
        autograd would keep for the backward pass: the self halves of all channels are one
        product, and only ``z`` itself (after the ReLU) is kept. Measured on 2x10^5 nodes and 4
        channels with glibc mapping every block: a step's working set 1.40 -> 1.07 GB.
        """
        k = h.shape[1]
        w_self = torch.cat([lin.weight[:, :k] for lin in self.per_channel])  # (channels * hidden, hidden)
        own = nn.functional.linear(h, w_self).view(len(h), len(msgs), -1)
        nbr = torch.stack(
            [nn.functional.linear(m, lin.weight[:, k:], lin.bias) for lin, m in zip(self.per_channel, msgs)], 1
        )
        return own.add_(nbr)


class RelationGNN(nn.Module):
    """Input map, ``layers`` relation layers, and a logit from all layers' states concatenated."""

    def __init__(self, in_dim: int, channels: list[str], hidden: int = 32, layers: int = 2, dropout: float = 0.2):
        super().__init__()
        self.channels = list(channels)
        self.register_buffer("mu", torch.zeros(in_dim))
        self.register_buffer("sd", torch.ones(in_dim))
        self.inp = nn.Linear(in_dim, hidden)
        self.convs = nn.ModuleList(RelationLayer(hidden, len(channels)) for _ in range(layers))
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden * (layers + 1), 1)

    def states(self, x: torch.Tensor, adjs: list[MeanAdjacency]) -> list[torch.Tensor]:
        """Every layer's node states over the whole graph."""
        h = self.drop(torch.relu(self.inp((x - self.mu) / self.sd)))
        hs = [h]
        for conv in self.convs:
            h = self.drop(conv(h, [a @ h for a in adjs]))
            hs.append(h)
        return hs

    def forward(self, x: torch.Tensor, adjs: list[MeanAdjacency]) -> torch.Tensor:
        return self.out(torch.cat(self.states(x, adjs), 1)).squeeze(-1)

    @torch.no_grad()
    def forward_rows(self, x: torch.Tensor, adjs: list[torch.Tensor], cache: list[torch.Tensor]):
        """Logits and last states of new rows; ``adjs`` map rows to (cached nodes, then the rows themselves)."""
        h = torch.relu(self.inp((x - self.mu) / self.sd))
        hs = [h]
        for layer, conv in enumerate(self.convs):
            both = torch.cat([cache[layer], h], 0)
            h = conv(h, [a @ both for a in adjs])
            hs.append(h)
        return self.out(torch.cat(hs, 1)).squeeze(-1), hs


def step_bytes(n_nodes: int, hidden: int, channels: int, layers: int) -> int:
    """About how much memory one full-graph training step takes: ``5 channels + 1`` node-by-hidden
    float tensors per layer (measured 1.07 GB on 2x10^5 nodes, 4 channels, hidden 32, 2 layers)."""
    return 4 * n_nodes * hidden * layers * (5 * channels + 1)


def train_gnn(
    x: np.ndarray,
    adjs: list[MeanAdjacency],
    channels: list[str],
    label: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    settings,
    seed: int,
) -> RelationGNN:
    """One GNN trained full-graph on ``label[train]`` (class-weighted BCE), best validation AUPRC kept."""
    torch.manual_seed(seed)
    net = RelationGNN(x.shape[1], channels, settings.hidden, settings.layers)
    xt = torch.from_numpy(x)
    net.mu.copy_(xt.mean(0))
    net.sd.copy_(xt.std(0).clamp_min(1e-6))
    y = torch.from_numpy(label[train].astype(np.float32))
    tr = torch.from_numpy(train)
    pos = float(y.sum())
    weight = torch.tensor(max(1.0, (len(y) - pos) / max(pos, 1.0)) ** 0.5)
    loss = nn.BCEWithLogitsLoss(pos_weight=weight)
    yv = label[val]

    def loss_fn(model, shard):
        rows, target = shard
        return loss(model(xt, adjs)[rows], target)

    def batches(epoch: int, rank: int, world: int):
        yield tr[rank::world], y[rank::world]  # one full-graph step; this process's training nodes

    def evaluate(model):
        s = model(xt, adjs)[torch.from_numpy(val)].numpy()
        return {"auprc": average_precision(yv, s) if 0 < yv.sum() < len(yv) else 0.0}

    cfg = TrainConfig(
        epochs=settings.epochs,
        lr=settings.lr,
        weight_decay=5e-4,
        seed=seed,
        out_dir=None,
        monitor="auprc",
        resume=False,
        progress=False,
        device="cpu",
        patience=20,
        restore_best=True,
    )
    recipe = TrainRecipe(
        loss_fn=loss_fn,
        evaluate=evaluate,
        batches=batches,
        steps_per_epoch=1,
        find_unused_parameters=True,  # under DDP: layers the loss does not reach in a step get no gradient
        scheduler=lambda opt, total: torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(3, total)),
    )
    Trainer(cfg).run(net, recipe)
    return net.eval()
