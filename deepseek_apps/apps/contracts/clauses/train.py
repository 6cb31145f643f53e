"""Training and inference of the clause tagger on CUAD-layout data.

Training windows are every window touching a clause plus ``neg_ratio`` times as many
clause-free windows, drawn again each epoch (most windows of a contract touch no clause).
The loss is binary cross-entropy on the word head plus the window head. Only the LoRA
adapters and the heads train (AdamW, linear warm-up then cosine decay), on the core
``Trainer`` (``device`` / ``precision``, progress, ``torchrun`` DDP).

Example:
    >>> from deepseek_apps.apps.contracts.clauses.train import TrainConfig
    >>> TrainConfig(epochs=1).size
    60
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepseek_apps.core.lora import LoRALinear, lora_state_dict
from deepseek_apps.errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError

from .data import CATEGORIES, LabelledContract, windows
from .folder import CONFIG_FILE, WEIGHTS_FILE
from .model import ClauseTagger, build_tagger, encode_windows


@dataclass
class TrainConfig:
    """How the tagger is trained (saved next to the weights, so a run can be reproduced)."""

    epochs: int = 2
    neg_ratio: float = 1.0
    batch_size: int = 16
    lr: float = 5e-4
    head_lr: float = 2e-3
    rank: int = 16
    size: int = 60
    stride: int = 45
    seed: int = 0
    max_steps: int | None = None
    init: str | None = None  # folder of trained weights to continue from (e.g. the shipped model)
    layers: int | None = None  # encoder layers kept (None: all six); fewer read faster
    teacher: str | None = None  # folder of a trained tagger whose probabilities the loss also follows
    distill: float = 0.5  # weight of the teacher's probabilities in the loss (with ``teacher``)
    device: str = "auto"  # auto | cpu | cuda | cuda:N (core.device)
    precision: str = "32"  # 32 | bf16 | 16


def _examples(contracts: list[LabelledContract], size: int, stride: int) -> tuple[list, list]:
    positive, negative = [], []
    for i, contract in enumerate(contracts):
        for a, b in windows(len(contract.words), size, stride):
            (positive if contract.labels[a:b].any() else negative).append((i, a, b))
    return positive, negative


def _batches(contracts, examples, batch_size, tokenizer):
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        batch = encode_windows(tokenizer, [contracts[i].words[a:b] for i, a, b in chunk])
        n_words = batch["word_index"].shape[1]
        word_labels = np.zeros((len(chunk), n_words, len(CATEGORIES)), dtype=np.float32)
        word_mask = np.zeros((len(chunk), n_words), dtype=bool)
        for row, (i, a, b) in enumerate(chunk):
            word_labels[row, : b - a] = contracts[i].labels[a:b]
            word_mask[row, : b - a] = True
        yield batch, torch.from_numpy(word_labels), torch.from_numpy(word_mask)


def _schedule(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


class WindowBatches:
    """Each epoch: every clause window plus freshly drawn clause-free ones, shuffled and tokenised.

    The global step budget (``total``) ends the last epochs early; under DDP rank ``r`` of ``w``
    takes every ``w``-th window. The RNG state is checkpointed, so a resumed run draws the same.
    """

    def __init__(self, contracts, positive, negative, n_negative, config: TrainConfig, tokenizer, total: int):
        self.contracts, self.positive, self.negative, self.n_negative = contracts, positive, negative, n_negative
        self.config, self.tokenizer, self.total = config, tokenizer, total
        self.per_epoch = math.ceil((len(positive) + n_negative) / config.batch_size)
        self.rng = np.random.default_rng(config.seed)

    def __call__(self, epoch: int, rank: int, world: int):
        rng, negative = self.rng, self.negative
        drawn = (
            [negative[j] for j in rng.choice(len(negative), self.n_negative, replace=False)] if self.n_negative else []
        )
        examples = self.positive + drawn
        ordered = [examples[j] for j in rng.permutation(len(examples))]
        if world > 1:
            ordered = ordered[: len(ordered) - len(ordered) % world][rank::world]
        left = self.total - epoch * self.per_epoch
        for k, batch in enumerate(_batches(self.contracts, ordered, self.config.batch_size, self.tokenizer)):
            if k >= left:
                break
            yield batch

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


def train_tagger(
    contracts: list[LabelledContract],
    config: TrainConfig | None = None,
    progress: bool = True,
    on_epoch: Callable[[ClauseTagger, int], None] | None = None,
    out_dir: str | None = None,
) -> tuple[ClauseTagger, object, list[float]]:
    """Fine-tune a fresh tagger on labelled contracts; returns (tagger, tokenizer, epoch losses).

    ``on_epoch(tagger, epoch)`` is called after each epoch (e.g. to save a checkpoint).
    ``out_dir``: the core ``Trainer``'s checkpoints there, and exact resume from them.
    """
    from deepseek_apps.core.train import TrainConfig as LoopConfig
    from deepseek_apps.core.train import Trainer, TrainRecipe

    config = config or TrainConfig()
    if not 0.0 <= config.distill <= 1.0:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "distill is the teacher's share of the loss and must be in 0..1",
            value=config.distill,
            hint="e.g. --distill 0.5 (half gold labels, half the teacher's probabilities)",
        )
    positive, negative = _examples(contracts, config.size, config.stride)
    if not positive:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY,
            "no window of the training contracts touches a labelled clause",
            value=len(contracts),
            hint="check that labels.csv holds clause strings that occur in the contract texts",
        )
    tagger, tokenizer = build_tagger(rank=config.rank, seed=config.seed, layers=config.layers)
    if config.init:
        load_trained_weights(tagger, Path(config.init), deeper=True)
    teacher = load_teacher(Path(config.teacher)) if config.teacher else None
    heads = [p for n, p in tagger.named_parameters() if n.startswith(("word_head", "window_head"))]
    adapters = [p for m in tagger.modules() if isinstance(m, LoRALinear) for p in (m.lora_a, m.lora_b)]
    n_negative = min(len(negative), int(round(config.neg_ratio * len(positive))))
    per_epoch = math.ceil((len(positive) + n_negative) / config.batch_size)
    total = min(per_epoch * config.epochs, config.max_steps or 10**12)
    warmup = max(1, total // 20)
    batches = WindowBatches(contracts, positive, negative, n_negative, config, tokenizer, total)
    bce = nn.BCEWithLogitsLoss()

    def loss_fn(net, batch):
        inputs, word_labels, word_mask = batch
        word_logits, window_logits = net(**inputs)
        word_logits, window_logits = word_logits.float(), window_logits.float()
        gold = bce(word_logits[word_mask], word_labels[word_mask]) + bce(window_logits, word_labels.amax(dim=1))
        if teacher is None:
            return gold
        with torch.no_grad():
            teacher.to(word_logits.device)
            soft_word, soft_window = (t.float().sigmoid() for t in teacher(**inputs))
        soft = bce(word_logits[word_mask], soft_word[word_mask]) + bce(window_logits, soft_window)
        return (1 - config.distill) * gold + config.distill * soft

    epochs_done = []

    def evaluate(model) -> dict:
        epochs_done.append(len(epochs_done) + 1)
        if on_epoch is not None:
            on_epoch(tagger, epochs_done[-1])
        return {}

    recipe = TrainRecipe(
        loss_fn=loss_fn,
        evaluate=evaluate,
        batches=batches,
        steps_per_epoch=per_epoch,
        optimizer=lambda m: torch.optim.AdamW(
            [{"params": adapters, "lr": config.lr}, {"params": heads, "lr": config.head_lr}], weight_decay=0.01
        ),
        scheduler=lambda opt, _: torch.optim.lr_scheduler.LambdaLR(opt, lambda step: _schedule(step, total, warmup)),
        batch_state=batches,
    )
    loop = LoopConfig(
        epochs=min(config.epochs, math.ceil(total / per_epoch)),
        batch_size=config.batch_size,
        grad_clip=1.0,
        seed=None,  # build_tagger seeded before drawing the adapters
        out_dir=out_dir,
        resume=out_dir is not None,
        progress=progress,
        device=config.device,
        precision=config.precision,
    )
    result = Trainer(loop).run(tagger, recipe)
    tagger.eval()
    losses = [r["loss"] for r in result.history]
    return tagger, tokenizer, losses + [float("nan")] * (config.epochs - len(losses))


def load_teacher(folder: Path) -> ClauseTagger:
    """A trained tagger folder as a frozen, merged model in eval mode (the teacher of ``TrainConfig.teacher``)."""
    from deepseek_apps.core.lora import merge_lora

    meta = json.loads((folder / CONFIG_FILE).read_text()) if (folder / CONFIG_FILE).is_file() else {"config": {}}
    config = meta["config"]
    teacher, _ = build_tagger(rank=int(config.get("rank", TrainConfig.rank)), layers=config.get("layers"))
    load_trained_weights(teacher, folder)
    merge_lora(teacher.encoder)
    return teacher.eval().requires_grad_(False)


def load_trained_weights(tagger: ClauseTagger, folder: Path, deeper: bool = False) -> None:
    """Load adapters + heads written by ``save_tagger`` into a fresh (unmerged) tagger.

    ``deeper``: the folder may hold a deeper encoder's adapters; those of layers the tagger does
    not have are dropped (to start a shallower tagger from a trained one).

    Raises:
        MissingResourceError: no weights in ``folder`` (2004).
        ModelFormatError: unknown, missing or wrongly shaped tensors, e.g. another rank (3003).
    """
    if not (folder / WEIGHTS_FILE).is_file():
        raise MissingResourceError(
            ErrorCode.DEFAULT_MODEL_MISSING,
            "no trained clause tagger here",
            value=str(folder),
            hint=f"expected {WEIGHTS_FILE}; train one with `deepseek-apps contracts train`",
        )
    load_trained_bytes(tagger, (folder / WEIGHTS_FILE).read_bytes(), deeper=deeper)


def load_trained_bytes(tagger: ClauseTagger, weights: bytes, deeper: bool = False) -> None:
    """Load adapters + heads (safetensors bytes, as ``tagger_bytes`` gives) into a fresh tagger
    (``deeper``: see ``load_trained_weights``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        state = load(weights)
    except SafetensorError as exc:
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID, f"clause tagger weights are not safetensors ({exc})", value=len(weights)
        ) from exc
    expected = tagger.state_dict()
    if deeper:
        depth = len(tagger.encoder.encoder.layer)
        state = {k: v for k, v in state.items() if _layer_of(k) is None or _layer_of(k) < depth}
    trained = [k for k in expected if "lora_" in k or k.startswith(("word_head", "window_head"))]
    bad = [k for k, v in state.items() if k not in expected or expected[k].shape != v.shape]
    bad += [k for k in trained if k not in state]
    if bad:
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            "clause tagger weights do not match the model",
            value=bad[:5],
            hint="use weights written by `deepseek-apps contracts train`, with the rank recorded next to them",
        )
    tagger.load_state_dict(state, strict=False)


def _layer_of(key: str) -> int | None:
    """The encoder layer a weight name belongs to ("encoder.encoder.layer.3.attention..." -> 3)."""
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        if part == "layer" and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


def tagger_bytes(tagger: ClauseTagger) -> bytes:
    """The adapters + heads of an unmerged tagger as safetensors bytes (what ``save_tagger`` writes)."""
    from safetensors.torch import save

    tensors = {f"encoder.{k}": v for k, v in lora_state_dict(tagger.encoder).items()}
    for name in ("word_head", "window_head"):
        for key, value in getattr(tagger, name).state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().clone()
    return save({k: v.contiguous() for k, v in tensors.items()})


def tagger_meta(config: TrainConfig, extra: dict | None = None) -> dict:
    """What ``clause_tagger.json`` holds: the training config, the categories and ``extra`` (metrics)."""
    meta = {"config": asdict(config), "categories": list(CATEGORIES), "saved": time.strftime("%Y-%m-%d")}
    return {**meta, **(extra or {})}


def save_tagger(tagger: ClauseTagger, out: str | Path, config: TrainConfig, extra: dict | None = None) -> Path:
    """Write the adapters + heads (safetensors) and the training config + metrics (JSON)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / WEIGHTS_FILE).write_bytes(tagger_bytes(tagger))
    (out / CONFIG_FILE).write_text(json.dumps(tagger_meta(config, extra), indent=2))
    return out / WEIGHTS_FILE
