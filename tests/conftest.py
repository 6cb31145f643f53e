from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# property tests check behaviour, not speed: a busy CI machine must not fail them on hypothesis's
# 200 ms per-example deadline (it did, once, with a training run beside the suite)
settings.register_profile("deepseek_apps", deadline=None)
settings.load_profile("deepseek_apps")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
NEU_DET = SHARED_DATA / "neu_det"

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def neu_det() -> Path:
    if not (NEU_DET / "IMAGES").is_dir():
        pytest.skip(f"real data not found at {NEU_DET} (see ../shared/data/README.md)")
    return NEU_DET


@pytest.fixture(scope="session")
def synthetic_voc(tmp_path_factory) -> Path:
    from deepseek_apps.datasets.synthetic import write_voc

    return write_voc(tmp_path_factory.mktemp("voc"), 24, seed=11)


@pytest.fixture(scope="session")
def sample_images():
    from deepseek_apps.datasets.synthetic import generate_samples

    return [s.image for s in generate_samples(6, seed=3)]


@pytest.fixture(scope="session")
def default_torch_path() -> Path:
    from deepseek_apps.core.registry import get_model

    return get_model("inspector", "neu_det-torch").path


@pytest.fixture(scope="session")
def fp32_bundle(tmp_path_factory, default_torch_path) -> Path:
    from deepseek_apps import QualityInspector

    return QualityInspector(model_path=default_torch_path).export(tmp_path_factory.mktemp("b") / "fp32.zip", int8=False)
