"""Which images train, which pick the best epoch (validation) and which are held out (test).

A data set that defines its own split (YOLO ``images/train|val|test`` or ``data.yaml``, VOC
``ImageSets/Main``, COCO files per split; ``sample.meta["split"]``) keeps it: its test part
is the test set; when it has no test part, its val part is held out as the test set and the
validation images are carved (seeded, stratified) from its train part, so the images that
judge the model never choose its epoch. Without an own split the whole set is split at
random, stratified by each image's first label. ``SplitPlan.source`` says which happened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...datasets.types import DetectionDataset
from ...errors import ErrorCode, InvalidInputError


@dataclass
class SplitPlan:
    """Image indices per part and a sentence saying where they came from."""

    train: list[int]
    val: list[int]
    test: list[int]
    source: str  # "dataset" (the data set's own split) or "random"
    description: str


def split_indices(
    dataset: DetectionDataset,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    indices: list[int] | None = None,
) -> tuple[list[int], list[int], list[int]]:
    """Seeded train/validation/test split of ``indices`` (all images when ``None``), stratified by first label."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for i in range(len(dataset)) if indices is None else indices:
        labels = dataset.samples[i].labels
        by_class.setdefault(int(labels[0]) if len(labels) else -1, []).append(i)
    train, val, test = [], [], []
    for key in sorted(by_class):
        idx = rng.permutation(by_class[key]).tolist()
        n_test = int(round(len(idx) * test_fraction))
        n_val = int(round(len(idx) * val_fraction))
        test += idx[:n_test]
        val += idx[n_test : n_test + n_val]
        train += idx[n_test + n_val :]
    return sorted(train), sorted(val), sorted(test)


def plan_split(dataset: DetectionDataset, val_fraction: float, test_fraction: float, seed: int) -> SplitPlan:
    """The data set's own split when it has one, else a seeded random one (see the module docstring)."""
    own: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    unassigned = []
    for i, sample in enumerate(dataset.samples):
        split = sample.meta.get("split")
        (own[split] if split in own else unassigned).append(i)
    if not any(own.values()):
        train, val, test = split_indices(dataset, val_fraction, test_fraction, seed)
        return SplitPlan(
            train,
            val,
            test,
            "random",
            f"no split in the data set: seeded random split (seed {seed}, val {val_fraction:.0%}, "
            f"test {test_fraction:.0%}), stratified by class",
        )
    pool = sorted(own["train"] + unassigned)
    if not pool:
        raise InvalidInputError(
            ErrorCode.DETECTOR_SPLIT_INVALID,
            f"the data set's own split has no training images (val {len(own['val'])}, test {len(own['test'])})",
            value={k: len(v) for k, v in own.items()},
            hint="add a train split (images/train, train: in data.yaml, ImageSets/Main/train.txt)",
        )
    extra = f" ({len(unassigned)} images outside every split trained on)" if unassigned else ""
    if own["val"] and own["test"]:
        return SplitPlan(
            pool, own["val"], own["test"], "dataset", f"the data set's own train / val / test split{extra}"
        )
    held_out = own["test"] or own["val"]
    named = "test" if own["test"] else "val" if own["val"] else ""
    train, val, _ = split_indices(dataset, val_fraction, 0.0, seed, pool)
    carved = f"validation ({val_fraction:.0%} of its train part, seed {seed}) carved from train{extra}"
    said = f"its {named} part held out as the test set" if named else "a train part only, no test set"
    return SplitPlan(train, val, held_out, "dataset", f"the data set's own split: {said}; {carved}")
