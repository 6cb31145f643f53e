"""The Quality Inspector page's anomaly view: heat-map overlay and the threshold that outlines pixels."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("streamlit", reason="the dashboard extra is not installed (pip install deepseek-apps[dashboard])")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dashboards"))

from _anomaly_view import overlay  # noqa: E402


def test_overlay_marks_pixels_above_the_threshold_at_image_size():
    image = Image.new("RGB", (40, 100), (128, 128, 128))
    heat = np.zeros((20, 8), np.float32)  # a working-size map, smaller than the image
    heat[5:10, 2:5] = 10.0
    shown = np.asarray(overlay(image, heat, threshold=5.0, top=10.0))
    assert shown.shape == (100, 40, 3)
    red = (shown[..., 0] > 200) & (shown[..., 1] < 80)
    assert red[35, 17] and not red[90, 35]
    high = np.asarray(overlay(image, heat, threshold=50.0, top=10.0))
    assert not ((high[..., 0] > 200) & (high[..., 1] < 80)).any()
