"""Deep Interest Network (Zhou et al., KDD 2018) and its BaseModel, as plain ``nn.Module``s.

Inputs (all int64): ``user_feats`` (B, F) user feature codes, ``item`` and ``category`` (B,)
of the candidate, ``hist_items`` and ``hist_cats`` (B or 1, L) of the history, left-padded
with 0. A history with batch 1 is broadcast over every candidate, so one user's 200
candidates share one history without copying it. Outputs: the click probability (B,) and
the attention weight of every history position (B, L) (0 on padding; for the BaseModel the
pooling weights).

The local activation unit scores each history item ``k`` against the candidate ``q`` with an
MLP over ``[q, k, q - k, q * k]`` (no softmax, as in the paper). Its first layer is applied
as ``q (Wq + Wd) + k (Wk - Wd) + (q * k) Wp``: the same function with the per-candidate and
per-history terms computed once each instead of once per pair.

Example:
    >>> import torch
    >>> from deepseek_apps.apps.recommender.model import DIN, DINConfig
    >>> model = DIN(DINConfig(n_items=100, n_categories=5, user_vocab_sizes=(4,)))
    >>> prob, att = model(torch.ones(3, 1, dtype=torch.long), torch.tensor([1, 2, 3]), torch.tensor([1, 1, 2]),
    ...                   torch.tensor([[0, 5, 6]]), torch.tensor([[0, 1, 2]]))
    >>> prob.shape, att.shape
    (torch.Size([3]), torch.Size([3, 3]))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

POOLINGS = ("attention", "sum", "mean")
ACTIVATIONS = ("prelu", "dice")


@dataclass
class DINConfig:
    """Architecture. ``pooling="attention"`` is DIN; ``"sum"`` / ``"mean"`` give the BaseModel."""

    n_items: int
    n_categories: int
    user_vocab_sizes: tuple[int, ...] = ()
    embedding_dim: int = 16
    attention_hidden: tuple[int, ...] = (64, 16)
    hidden: tuple[int, ...] = (200, 80)
    activation: str = "prelu"
    pooling: str = "attention"
    attention_heads: int = 1
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DINConfig:
        d = dict(d)
        for key in ("user_vocab_sizes", "attention_hidden", "hidden"):
            d[key] = tuple(d.get(key, ()))
        return cls(**d)


def _dice_train(x: torch.Tensor, alpha: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dice with mini-batch statistics over every leading dimension; returns (y, mean, var)."""
    flat = x.reshape(-1, x.shape[-1])
    var, mean = torch.var_mean(flat, 0, correction=0)
    p = torch.sigmoid((x - mean) * torch.rsqrt(var + eps))
    return x * (alpha + (1 - alpha) * p), mean, var


def _dice_train_eager(x: torch.Tensor, alpha: torch.Tensor, eps: float):
    """``_dice_train`` with the moments as two GEMVs (``var_mean`` over dim 0 is slow in eager CPU)."""
    flat = x.reshape(-1, x.shape[-1])
    ones = flat.new_full((1, flat.shape[0]), 1.0 / flat.shape[0])
    mean = (ones @ flat).squeeze(0)
    var = ((ones @ (flat * flat)).squeeze(0) - mean * mean).clamp(min=0.0)
    p = torch.sigmoid((x - mean) * torch.rsqrt(var + eps))
    return x * (alpha + (1 - alpha) * p), mean, var


_COMPILED: dict[str, object] = {}


def compiled_dice(enable: bool = True) -> None:
    """Run Dice's training step through ``torch.compile`` (fuses its ~10 element-wise passes).

    About 2-3x faster Dice on CPU once compiled (tens of seconds, once per process, shapes
    dynamic so no recompiles). Evaluation and ONNX export always use the plain formula.
    """
    if enable and "dice" not in _COMPILED:
        _COMPILED["dice"] = torch.compile(_dice_train, dynamic=True)
    elif not enable:
        _COMPILED.pop("dice", None)


class Dice(nn.Module):
    """Data-adaptive activation: ``x * (alpha + (1 - alpha) * sigmoid(norm(x)))``.

    ``norm`` uses the mini-batch mean and variance in training and running estimates in
    evaluation (so the exported graph is element-wise only).
    """

    def __init__(self, dim: int, eps: float = 1e-8, momentum: float = 0.1):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.eps, self.momentum = eps, momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            y, mean, var = _COMPILED.get("dice", _dice_train_eager)(x, self.alpha, self.eps)
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach(), self.momentum)
            return y
        scale = torch.rsqrt(self.running_var + self.eps)  # per-feature constants, folded in ONNX
        p = torch.sigmoid(torch.addcmul(-self.running_mean * scale, x, scale))
        return x * torch.addcmul(self.alpha, 1 - self.alpha, p)


class PReLU(nn.Module):
    """Per-feature PReLU over the last dimension (``nn.PReLU`` wants channels in dim 1)."""

    def __init__(self, dim: int, init: float = 0.1):
        super().__init__()
        self.weight = nn.Parameter(torch.full((dim,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():  # ONNX Runtime's broadcasting PRelu is ~10x slower than these
            if bool((self.weight <= 1).all()):  # then PReLU(x) = max(x, w x) exactly
                return torch.maximum(x, x * self.weight)
            return torch.relu(x) - self.weight * torch.relu(-x)
        return F.prelu(x.reshape(-1, x.shape[-1]), self.weight).reshape(x.shape)


def _act(name: str, dim: int) -> nn.Module:
    return Dice(dim) if name == "dice" else PReLU(dim)


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), _act(activation, b)]
    return nn.Sequential(*layers)


class LocalActivationUnit(nn.Module):
    """Scores (B, L, heads) of history keys against a query, over ``[q, k, q-k, q*k]``."""

    def __init__(self, dim: int, hidden: tuple[int, ...], activation: str, heads: int):
        super().__init__()
        self.first = nn.Linear(4 * dim, hidden[0])
        self.first_act = _act(activation, hidden[0])
        self.rest = _mlp(list(hidden), activation)
        self.out = nn.Linear(hidden[-1], heads)
        self.dim = dim
        # "auto": the one-GEMM path when a single history is shared by many candidates (eager only);
        # "always": that path unconditionally (to export a shared-history serving graph)
        self.shared_gemm = "auto"

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        wq, wk, wd, wp = self.first.weight.split(self.dim, dim=1)
        shared = k.shape[0] == 1 and q.shape[0] > 1 and not torch.jit.is_tracing()
        if self.shared_gemm == "always" or (self.shared_gemm == "auto" and shared):
            h = self._first_layer_shared(q, k[0], wq + wd, wk - wd, wp)
        else:
            q_, k_ = q.unsqueeze(1), k.expand(q.shape[0], -1, -1)
            pairs = F.linear(torch.cat([q_ * k_, k_], -1), torch.cat([wp, wk - wd], 1), self.first.bias)
            h = pairs + F.linear(q, wq + wd).unsqueeze(1)
        return self.out(self.rest(self.first_act(h)))

    def _first_layer_shared(self, q, k, w_q, w_k, w_p) -> torch.Tensor:
        """First layer for one history ``k`` (L, D) shared by all queries ``q`` (B, D), as one GEMM.

        ``h[b, l] = q_b w_q + k_l w_k + (q_b * k_l) w_p + bias = [q_b, 1] @ M_l`` with
        ``M_l = [[k_l[:, None] * w_p^T + w_q^T], [k_l w_k + bias]]``; all ``M_l`` side by side.
        """
        length, hidden = k.shape[0], w_p.shape[0]
        per_pos = k.unsqueeze(-1) * w_p.t().unsqueeze(0) + w_q.t().unsqueeze(0)  # (L, D, H)
        last = F.linear(k, w_k, self.first.bias).unsqueeze(1)  # (L, 1, H)
        m = torch.cat([per_pos, last], 1).permute(1, 0, 2).reshape(self.dim + 1, length * hidden)
        q1 = torch.cat([q, torch.ones_like(q[:, :1])], -1)
        return (q1 @ m).reshape(q.shape[0], length, hidden)


class DIN(nn.Module):
    """DIN (attention pooling) or BaseModel (sum / mean pooling) over shared embeddings."""

    def __init__(self, config: DINConfig):
        super().__init__()
        c = config
        if c.pooling not in POOLINGS or c.activation not in ACTIVATIONS:
            raise ValueError(f"pooling in {POOLINGS}, activation in {ACTIVATIONS}")
        self.config = c
        d = c.embedding_dim
        self.item_emb = nn.Embedding(c.n_items + 1, d, padding_idx=0)
        self.cat_emb = nn.Embedding(c.n_categories + 1, d, padding_idx=0)
        self.user_embs = nn.ModuleList(nn.Embedding(v, d) for v in c.user_vocab_sizes)
        for emb in (self.item_emb, self.cat_emb, *self.user_embs):
            nn.init.normal_(emb.weight, std=0.05)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
            self.cat_emb.weight[0].zero_()
        key_dim = 2 * d
        if c.pooling == "attention":
            if key_dim % c.attention_heads:
                raise ValueError(f"2 * embedding_dim ({key_dim}) must be divisible by attention_heads")
            self.attention = LocalActivationUnit(key_dim, c.attention_hidden, c.activation, c.attention_heads)
        width = len(c.user_vocab_sizes) * d + 2 * key_dim
        self.mlp = _mlp([width, *c.hidden], c.activation)
        self.head = nn.Linear(c.hidden[-1], 1)

    def embed(self, item: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.item_emb(item), self.cat_emb(category)], -1)

    def pool(self, q: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled interest (B, 2D) and per-position weights (B, L)."""
        c = self.config
        if c.pooling != "attention":
            weights = mask.float()
            if c.pooling == "mean":
                weights = weights / weights.sum(1, keepdim=True).clamp(min=1.0)
            weights = weights.expand(q.shape[0], -1)
            return torch.einsum("bl,bld->bd", weights, keys.expand(q.shape[0], -1, -1)), weights
        scores = self.attention(q, keys) * mask.unsqueeze(-1).float()  # (B, L, H)
        h = c.attention_heads
        if h == 1:
            pooled = (scores.transpose(1, 2) @ keys).squeeze(1)
        else:
            b, l_, dim = scores.shape[0], keys.shape[1], keys.shape[2]
            per_head = keys.reshape(keys.shape[0], l_, h, dim // h)
            pooled = (scores.unsqueeze(-1) * per_head).sum(1).reshape(b, dim)
        return pooled, scores.mean(-1)

    def forward(
        self,
        user_feats: torch.Tensor,
        item: torch.Tensor,
        category: torch.Tensor,
        hist_items: torch.Tensor,
        hist_cats: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.logits(user_feats, item, category, hist_items, hist_cats, probability=True)

    def logits(self, user_feats, item, category, hist_items, hist_cats, probability: bool = False):
        q = self.embed(item, category)
        keys = self.embed(hist_items, hist_cats)
        pooled, weights = self.pool(q, keys, hist_items != 0)
        parts = [emb(user_feats[:, i]) for i, emb in enumerate(self.user_embs)]
        user = torch.cat(parts, -1).expand(q.shape[0], -1) if parts else q[:, :0]
        out = self.head(self.mlp(torch.cat([user, q, pooled], -1))).squeeze(-1)
        return (torch.sigmoid(out) if probability else out), weights
