"""Lines where most images are good: the images with a defect are repeated within an epoch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from deepseek_apps.apps.inspector import train as train_module
from deepseek_apps.apps.inspector.model import DetectorConfig
from deepseek_apps.apps.inspector.train import MAX_REPEAT, PreparedItem, balance_positives, train_detector
from deepseek_apps.core.train import TrainConfig
from deepseek_apps.datasets import DetectionDataset
from deepseek_apps.datasets.synthetic import generate_samples
from deepseek_apps.errors import ErrorCode, InvalidInputError

PIXELS = np.zeros((1, 8, 8), np.uint8)
GOOD = PreparedItem(PIXELS, np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
BAD = PreparedItem(PIXELS, np.array([[1, 1, 5, 5]], np.float32), np.zeros(1, np.int64))


def test_positives_are_repeated_to_the_share_and_no_further():
    items, done = balance_positives([GOOD] * 30 + [BAD] * 5, 0.25)
    # the smallest k with 5k / (5k + 30) >= 0.25 is 2
    assert done == {"positive_share": 0.25, "items": 35, "items_with_defects": 5, "repeat": 2, "share_after": 0.25}
    assert len(items) == 40 and sum(it is BAD for it in items) == 10 and items[:35] == [GOOD] * 30 + [BAD] * 5


def test_repeats_are_capped():
    items, done = balance_positives([GOOD] * 1000 + [BAD], 0.5)
    assert done["repeat"] == MAX_REPEAT and sum(it is BAD for it in items) == MAX_REPEAT
    assert done["share_after"] == round(MAX_REPEAT / (MAX_REPEAT + 1000), 4)


@pytest.mark.parametrize(
    "items, share",
    [([GOOD] * 9 + [BAD], 0.0), ([BAD] * 3 + [GOOD], 0.25), ([GOOD] * 5, 0.25), ([], 0.25)],
    ids=["off", "enough-positives", "no-positives", "empty"],
)
def test_left_alone(items, share):
    out, done = balance_positives(list(items), share)
    assert out == items and done["repeat"] == 1


@pytest.mark.parametrize("share", [-0.1, 1.0, 2, "0.3", True, float("nan")])
def test_a_share_outside_0_1_is_a_coded_error(share):
    with pytest.raises(InvalidInputError) as err:
        balance_positives([GOOD, BAD], share)
    assert err.value.code == ErrorCode.INVALID_ARGUMENT and "positive_share" in err.value.message


def test_training_sees_the_repeats_and_the_card_says_so(tmp_path, monkeypatch):
    samples = generate_samples(24, seed=3)
    good = [replace(s, boxes=np.zeros((0, 4), np.float32), labels=np.zeros(0, np.int64)) for s in samples[4:]]
    dataset = DetectionDataset(samples[:4] + good, ("crazing", "inclusion", "patches", "pitted", "rolled", "scratches"))
    seen = []
    real_fit = train_module.Trainer.fit

    def fit(self, model, items, *args, **kwargs):
        seen.append([len(it.boxes) > 0 for it in items])
        return real_fit(self, model, items, *args, **kwargs)

    monkeypatch.setattr(train_module.Trainer, "fit", fit)
    detector = DetectorConfig(input_size=64, backbone="tiny", head_convs=1, num_classes=6)
    config = TrainConfig(epochs=1, batch_size=8, out_dir=str(tmp_path / "run"), progress=False)
    _, _, meta = train_detector(dataset, detector, config, val_fraction=0.2, test_fraction=0.0)
    balance = meta["balance"]
    assert balance["repeat"] > 1 and balance["items"] == meta["split"]["train"]
    positives = balance["items_with_defects"]
    assert 0 < positives < 0.25 * balance["items"]
    assert len(seen[0]) == balance["items"] + positives * (balance["repeat"] - 1)
    assert sum(seen[0]) == positives * balance["repeat"]  # every positive, repeated; every good image once
    card = (tmp_path / "run" / "MODEL_CARD.md").read_text()
    assert f"each repeated {balance['repeat']}x" in card
    assert meta["training_health"]["checks"]["train_images_with_defects"] == positives  # checked before the repeats
