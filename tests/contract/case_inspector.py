"""The inspector's tiny task for the shared contract test: a dozen generated VOC images, one epoch at 64 px."""

from __future__ import annotations

import numpy as np

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.model import DetectorConfig
from deepseek_apps.core.train import TrainConfig
from deepseek_apps.datasets.synthetic import generate_samples, write_voc

from .cases import ContractCase

APP_CLASS = QualityInspector
TINY = DetectorConfig(input_size=64, widths=(8, 16, 16, 32, 32), fpn_channels=32, head_convs=1, backbone="tiny")


def _defects(inspection) -> list:
    """Labels and boxes, order-free: a barely trained model scores many boxes almost alike, and
    the order of near-ties is not part of the contract."""
    return sorted((d.label, tuple(round(v, 1) for v in d.box)) for d in inspection.defects)


def make_case(tmp_path) -> ContractCase:
    data = write_voc(tmp_path / "voc", 12, seed=4)
    train = TrainConfig(epochs=3, batch_size=4, out_dir=str(tmp_path / "run"), progress=False, threads=2)
    return ContractCase(
        cls=QualityInspector,
        params={"confidence_threshold": 0.05, "batch_size": 2, "detector_config": TINY, "train_config": train},
        fit_data=data,
        fit_kwargs={"epochs": 1, "seed": 0, "progress": False, "val_fraction": 0.2, "test_fraction": 0.2},
        good=[s.image for s in generate_samples(3, seed=8)],
        bad=np.zeros((16, 16), np.float64),  # float pixels: refused with IMAGE_DTYPE
        eval_data=data,
        comparable=_defects,
        load_overrides={"confidence_threshold": 0.05},
        # One epoch on 12 images learns nothing, so its training check fails and export refuses
        # it (code 4110); the contract checks the export mechanics, hence force.
        export_kwargs={"force": True},
    )
