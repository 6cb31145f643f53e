"""The anomaly task on the Quality Inspector page: heat-map overlays and a threshold slider.

The model scores each batch once; the slider moves the OK/NG threshold over the stored
scores and heat maps, so it never re-runs the model. Pixels at or above the threshold are
outlined in red on top of the heat map.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

COLUMNS = 3


def overlay(image: Image.Image, heat_map: np.ndarray, threshold: float, top: float) -> Image.Image:
    """``image`` with the heat map (at the image's size) blended in, and the pixels above ``threshold`` in red."""
    heat = Image.fromarray(heat_map.astype(np.float32), mode="F").resize(image.size, Image.BILINEAR)
    values = np.asarray(heat)
    scaled = np.clip(values / max(top, 1e-6), 0.0, 1.0)
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    colour = np.stack([255 * scaled, 64 * scaled, 255 * (1 - scaled)], axis=-1)
    blended = 0.6 * base + 0.4 * colour
    blended[values >= threshold] = 0.3 * blended[values >= threshold] + 0.7 * np.array([255.0, 0.0, 0.0])
    return Image.fromarray(blended.clip(0, 255).astype(np.uint8))


def show_anomaly(batch: dict, model_threshold: float) -> None:
    """Summary, threshold slider and overlay gallery of a batch scored by an anomaly model."""
    results = batch["inspections"]
    scores = [r.score for r in results if not r.error]
    if not scores:
        st.error("No image could be scored.")
        return
    low, high = float(min(min(scores), model_threshold)), float(max(max(scores), model_threshold))
    threshold = st.slider(
        "Anomaly threshold (score units; the model's is set from good images)",
        low * 0.9,
        high * 1.1,
        float(model_threshold),
        key="anomaly_threshold",
    )
    cols = st.columns(4)
    cols[0].metric("Images", len(results))
    cols[1].metric("OK", sum(1 for s in scores if s < threshold))
    cols[2].metric("NG", sum(1 for s in scores if s >= threshold))
    cols[3].metric("Errors", sum(1 for r in results if r.error))
    gallery = st.columns(COLUMNS)
    for i, (name, image, result) in enumerate(zip(batch["names"], batch["images"], results, strict=True)):
        with gallery[i % COLUMNS]:
            if result.error:
                st.error(f"**{name}**: {result.error['message']} — {result.error.get('hint') or ''}")
                continue
            badge = ":green[**OK**]" if result.score < threshold else ":red[**NG**]"
            st.markdown(f"{badge} · score {result.score:.3f} · `{name}`")
            st.image(overlay(image, result.heat_map, threshold, high), width="stretch")
    with st.expander("Raw results (JSON)"):
        st.json([dict(r.to_dict(), name=n) for n, r in zip(batch["names"], results, strict=True)], expanded=False)
