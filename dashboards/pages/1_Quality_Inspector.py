"""Quality Inspector: open a model (the shipped one or your own), upload images, see defects and verdicts.

The model is any folder or bundle ``QualityInspector.load`` opens: a training ``--out``
folder, a folder written by ``save`` or a bundle from ``export``. The model runs once per batch at a low floor threshold; the confidence slider then filters
the stored defects, so moving it never re-runs the model.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import streamlit as st
from PIL import Image

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # when this page is run on its own
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _anomaly_view import show_anomaly  # noqa: E402
from _common import class_colours, class_counts, draw_defects, keep_above, summarise  # noqa: E402

from deepseek_apps import Inspection, QualityInspector  # noqa: E402
from deepseek_apps.core.registry import get_model  # noqa: E402
from deepseek_apps.datasets.synthetic import generate_samples  # noqa: E402
from deepseek_apps.errors import DeepSeekAppsError  # noqa: E402

MODEL_FLOOR = 0.05  # threshold the model runs at; the slider filters above it
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp"]
COLUMNS = 3

st.set_page_config(page_title="Quality Inspector · deepseek-apps", layout="wide")


SHIPPED_MODEL = str(get_model("inspector").path)


@st.cache_resource(show_spinner="Loading the inspector model…")
def load_inspector(model_path: str) -> QualityInspector:
    """The model at ``model_path`` (folder or bundle), loaded once per server process and path."""
    return QualityInspector.load(model_path, confidence_threshold=MODEL_FLOOR, batch_size=16)


def choose_model() -> tuple[str, QualityInspector | None]:
    """The model path box; the loaded model, or ``None`` after showing why it did not load."""
    path = st.text_input(
        "Model (folder or bundle)",
        value=SHIPPED_MODEL,
        key="model_path",
        help="The shipped NEU-DET model, your `inspector train --out` folder, a `save` folder or an exported bundle.",
    ).strip()
    try:
        inspector = load_inspector(path)
    except DeepSeekAppsError as exc:  # shown to the user, not swallowed: they can type another path
        st.error(f"Cannot open this model: {exc}")
        return path, None
    if "anomaly_" in vars(inspector):  # a good-only model: score, heat map and a threshold in score units
        model = inspector.anomaly_
        st.caption(f"anomaly model · {model.runtime} · {model.size[1]}x{model.size[0]}px · {len(model.bank)} bank rows")
        return path, inspector
    metadata = inspector.model_.metadata
    kind = f"{metadata.get('precision', 'fp32')} bundle" if "bundle" in metadata else "PyTorch weights"
    st.caption(f"{kind} · {inspector.model_.input_size}px · classes: {', '.join(inspector.class_names)}")
    return path, inspector


def inspect_samples(inspector: QualityInspector, n: int, seed: int) -> dict:
    samples = generate_samples(n, seed=seed)
    images = [s.image for s in samples]
    return {
        "names": [s.name for s in samples],
        "images": images,
        "inspections": inspector.predict(images, errors="record"),
    }


def inspect_uploads(inspector: QualityInspector, files: list) -> dict:
    """Inspect uploads from temporary files, so unreadable ones get the library's per-file error."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, upload in enumerate(files):
            path = Path(tmp) / f"{i:03d}_{Path(upload.name).name}"
            path.write_bytes(upload.getvalue())
            paths.append(path)
        inspections = [
            _without_temp_path(r, path, upload.name)
            for r, path, upload in zip(inspector.predict(paths, errors="record"), paths, files, strict=True)
        ]
        images = [None if r.error else Image.open(p).convert("RGB") for p, r in zip(paths, inspections, strict=True)]
    return {"names": [f.name for f in files], "images": images, "inspections": inspections}


def _without_temp_path(result: Inspection, path: Path, name: str) -> Inspection:
    """Error messages name the uploaded file, not the temporary copy the library read."""
    if not result.error:
        return result
    error = {k: v.replace(str(path), name) if isinstance(v, str) else v for k, v in result.error.items()}
    return dataclasses.replace(result, error=error)


def controls(inspector: QualityInspector) -> float:
    """Input widgets; stores a new batch in session state when asked. Returns the threshold."""
    left, right = st.columns([3, 2])
    with left:
        files = st.file_uploader("Upload surface images", type=UPLOAD_TYPES, accept_multiple_files=True, key="uploads")
    with right:
        n = st.slider("Number of generated samples", 1, 24, 6, key="n_samples")
        seed = st.number_input("Sample seed", min_value=0, value=0, step=1, key="seed")
        clicked = st.button("Use generated samples", key="use_samples", type="primary")
    threshold = st.slider("Confidence threshold", MODEL_FLOOR, 0.99, 0.3, 0.01, key="confidence")

    upload_ids = tuple((f.name, f.size) for f in files or [])
    with st.spinner("Inspecting…"):
        if clicked:
            st.session_state["batch"] = inspect_samples(inspector, int(n), int(seed))
        elif upload_ids and upload_ids != st.session_state.get("upload_ids"):
            st.session_state["batch"] = inspect_uploads(inspector, files)
    st.session_state["upload_ids"] = upload_ids
    return float(threshold)


def show_summary(inspections: list, class_names: tuple[str, ...]) -> None:
    stats = summarise(inspections)
    cols = st.columns(5)
    cols[0].metric("Images", stats["images"])
    cols[1].metric("OK", stats["ok"])
    cols[2].metric("NG", stats["ng"])
    cols[3].metric("Errors", stats["errors"])
    cols[4].metric("Mean latency (ms)", f"{stats['mean_latency_ms']:.1f}")
    st.markdown(f"**Defects per class** ({stats['defects']} in total)")
    st.bar_chart(class_counts(inspections, class_names), y="defects", x_label="class", y_label="defects")


def show_gallery(batch: dict, inspections: list, colours: dict[str, str]) -> None:
    cols = st.columns(COLUMNS)
    for i, (name, image, result) in enumerate(zip(batch["names"], batch["images"], inspections, strict=True)):
        with cols[i % COLUMNS]:
            if result.error:
                st.error(f"**{name}**: {result.error['message']} — {result.error.get('hint') or ''}")
                continue
            badge = ":green[**OK**]" if result.ok else f":red[**NG**] · {len(result.defects)} defect(s)"
            st.markdown(f"{badge} · `{name}`")
            st.image(draw_defects(image, result, colours), width="stretch")


def main() -> None:
    st.title("Quality Inspector")
    st.caption(
        "Surface defect detection: boxes, labels and an OK/NG verdict per image. Open the shipped NEU-DET "
        "model or your own, then upload images or generate seeded synthetic samples."
    )
    path, inspector = choose_model()
    if inspector is None:
        return
    if st.session_state.get("batch_model") != path:  # another model: earlier results do not apply
        st.session_state.pop("batch", None)
        st.session_state.pop("upload_ids", None)
        st.session_state["batch_model"] = path
    threshold = controls(inspector)
    batch = st.session_state.get("batch")
    if not batch:
        st.info("Upload images or click **Use generated samples** to run the inspector.")
        return
    if "anomaly_" in vars(inspector):
        show_anomaly(batch, inspector.anomaly_.threshold)
        return
    inspections = [keep_above(r, threshold) for r in batch["inspections"]]
    st.subheader("Results")
    show_summary(inspections, inspector.class_names)
    show_gallery(batch, inspections, class_colours(inspector.class_names))
    with st.expander("Raw results (JSON)"):
        st.json([dict(r.to_dict(), name=n) for n, r in zip(batch["names"], inspections, strict=True)], expanded=False)


main()
