"""Optimization lab: take a model through the compression levels and compare the variants.

Pick a model (the shipped weights or your own training folder), the data (generated, NEU-DET or
your own annotated folder) and a level, run the pipeline with live step updates, then read the
report table, the per-layer precision plan and a latency-versus-accuracy chart.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from deepseek_apps import QualityInspector
from deepseek_apps.datasets.synthetic import write_voc
from deepseek_apps.errors import DeepSeekAppsError

NEU_DET = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "neu_det"
LEVELS = {
    0: "0 · FP32 ONNX",
    1: "1 · graph-optimised ONNX Runtime",
    2: "2 · INT8 with a mixed-precision plan",
    3: "3 · pruning + fine-tune + INT8",
}
SYNTHETIC, NEU, OWN = "Synthetic steel surfaces (60 images)", "NEU-DET (../shared/data/neu_det)", "Your dataset folder"
FORMATS = ["voc", "yolo", "coco", "masks"]

st.set_page_config(page_title="Optimization lab · deepseek-apps", layout="wide")
st.title("Optimization lab")
st.caption("The same model, smaller and faster, within an accuracy budget: each level is measured side by side.")


@st.cache_data(show_spinner="Generating a synthetic dataset…")
def synthetic_dataset(count: int, seed: int) -> str:
    return str(write_voc(Path(tempfile.mkdtemp(prefix="dsa-lab-")), count, seed=seed))


left, right = st.columns(2)
with left:
    model = st.text_input(
        "Model (PyTorch folder)",
        value=str(QualityInspector.default_weights),
        key="model",
        help="The shipped model's PyTorch weights, your `inspector train --out` folder or a `save` folder.",
    ).strip()
    sources = [SYNTHETIC] + ([NEU] if NEU_DET.is_dir() else []) + [OWN]
    source = st.radio("Data for calibration and the metric", sources, key="source")
    data_path, data_format = "", "voc"
    if source == OWN:
        data_path = st.text_input(
            "Dataset folder", key="data_path", help="your annotated images, labelled with the model's classes"
        ).strip()
        data_format = st.selectbox("Annotation format", FORMATS, key="data_format")
with right:
    level = st.selectbox("Level", list(LEVELS), format_func=LEVELS.get, index=1, key="level")
    budget = st.slider("Accuracy budget (mAP points)", 0.0, 5.0, 1.0, 0.5, key="budget")
    epochs = st.number_input("Fine-tune epochs (level 3, QAT)", 1, 100, 5, key="epochs")
    fold = st.checkbox(
        "GroupNorm -> BatchNorm (level 3)",
        key="fold",
        help="Per-level BatchNorms fold into the INT8 convolutions: faster, may cost mAP.",
    )
    qat = st.selectbox(
        "Quantization-aware fine-tuning",
        ["auto", "always", "never"],
        key="qat",
        help="auto: only when post-training INT8 misses the budget (levels 2 and 3)",
    )

if st.button("Run optimization", type="primary", key="run"):
    if source == OWN and not data_path:
        st.error("Type the path of your annotated dataset folder first.")
        st.stop()
    data = synthetic_dataset(60, 7) if source == SYNTHETIC else str(NEU_DET) if source == NEU else data_path
    out = Path(tempfile.mkdtemp(prefix="dsa-lab-")) / f"level{level}.zip"
    with st.status(f"Optimising to level {level}…", expanded=True) as status:

        def on_step(step) -> None:
            metric = "" if step.metric is None else f" — mAP×100 {step.metric:.2f}"
            status.write(f"**{step.step}**: {step.detail}{metric}")

        try:
            inspector = QualityInspector(model_path=model)
            bundle, report = inspector.optimize(
                data,
                out,
                level=level,
                format=data_format,
                max_accuracy_drop=budget,
                finetune_epochs=int(epochs),
                on_step=on_step,
                qat={"auto": None, "always": True, "never": False}[qat],
                fold_norms=fold,
            )
        except DeepSeekAppsError as exc:  # shown to the user, not swallowed: the page stays usable
            shutil.rmtree(out.parent, ignore_errors=True)
            status.update(label="Optimization failed", state="error")
            st.error(str(exc))
            st.stop()
        status.update(label=f"Level {level} done", state="complete")
    # the bundle is kept in the session (a few MB) and its temporary folder removed: one folder per run would pile up
    st.session_state["lab"] = {
        "report": report.to_dict(),
        "bundle_bytes": Path(bundle).read_bytes(),
        "bundle_name": Path(bundle).name,
        "table": report.table(),
    }
    shutil.rmtree(out.parent, ignore_errors=True)
    runs = st.session_state.setdefault("lab_runs", [])
    runs.append(
        {
            "name": f"run {len(runs) + 1}: level {level}" + (" + GN->BN" if fold and level == 3 else ""),
            "p50_ms_b1": report.result.p50_ms_b1,
            "metric": report.result.metric,
            "file_mb": report.result.file_mb,
        }
    )

lab = st.session_state.get("lab")
if lab:
    report = lab["report"]
    st.subheader("Report")
    rows = pd.DataFrame([report["baseline"], report["result"]]).set_index("name")
    c1, c2, c3 = st.columns(3)
    c1.metric("Speed-up at batch 1", f"{report['speedup_b1']:.2f}x")
    c2.metric("Smaller by", f"{report['size_ratio']:.1f}x")
    c3.metric(
        "mAP drop (points)",
        f"{report['metric_drop']:+.2f}",
        help=f"budget {report['max_accuracy_drop']}; within budget: {report['within_budget']}",
    )
    st.dataframe(rows, width="stretch")
    st.markdown("**Latency vs accuracy** (every run of this session, next to the FP32 baseline)")
    baseline = {k: report["baseline"][k] for k in ("name", "p50_ms_b1", "metric", "file_mb")}
    chart = pd.DataFrame([baseline, *st.session_state.get("lab_runs", [])])
    st.scatter_chart(chart, x="p50_ms_b1", y="metric", color="name", size=200)
    st.markdown("**Steps**")
    for step in report["steps"]:
        st.markdown(f"- **{step['step']}**: {step['detail']}")
    if report["layer_plan"]:
        with st.expander("Per-layer precision plan"):
            st.dataframe(pd.DataFrame(sorted(report["layer_plan"].items()), columns=["layer", "precision"]))
    st.download_button("Download bundle", lab["bundle_bytes"], file_name=lab["bundle_name"], key="download")
