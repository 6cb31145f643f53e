"""Training: run ``deepseek-apps <app> train`` on your own data and follow it live.

Pick the application, the data and an output folder; the page runs the CLI in a
subprocess, shows its progress bar and log as they come, then the final metrics and where
the model was saved. Leaving the page or pressing Train again stops a running job.
"""

from __future__ import annotations

import shlex
import tempfile
import time
from pathlib import Path

import streamlit as st
from _train import APPLICATIONS, TrainRun, model_hint, train_command

st.set_page_config(page_title="Train · deepseek-apps", layout="wide")
st.title("Train a model")
st.caption("Your data in, a model folder out: the same `deepseek-apps <app> train` a terminal runs.")

left, right = st.columns(2)
with left:
    app = st.selectbox(
        "Application",
        list(APPLICATIONS),
        format_func=lambda name: f"{name} · {APPLICATIONS[name].class_name}",
        key="app",
    )
    spec = APPLICATIONS[app]
    data = st.text_input(
        "Data (folder or file)",
        value="synthetic:2000" if app == "fraud" else "",
        placeholder=spec.data_help,
        help=spec.data_help,
        key=f"data_{app}",
    )
    out = st.text_input(
        "Output folder",
        value=str(Path(tempfile.gettempdir()) / f"dsa-train-{app}"),
        help=f"The model folder to write; open it later with `{spec.class_name}.load(folder)`.",
        key=f"out_{app}",
    )
with right:
    epochs = st.number_input("Epochs", min_value=1, max_value=1000, value=5, key="epochs")
    seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, key="seed")

ready = bool(data.strip() and out.strip())
command = train_command(app, data.strip(), out.strip(), epochs, seed)
st.code(shlex.join(["deepseek-apps", *command[3:]]), language="bash")

if st.button("Train", type="primary", key="train", disabled=not ready):
    st.session_state.pop("train_result", None)
    run = TrainRun.start(command)
    try:
        with st.status(f"Training {spec.class_name}…", expanded=True) as status:
            progress, log = st.empty(), st.empty()
            while run.running:
                progress.code(run.progress or "starting…", language=None)
                log.code("\n".join(run.stdout[-15:]) or " ", language=None)
                time.sleep(0.5)
            code = run.wait()
            progress.code(run.progress or " ", language=None)
            log.code("\n".join(run.stdout[-15:]) or " ", language=None)
            done = code == 0
            status.update(
                label=f"Training {'finished' if done else f'failed (exit status {code})'}",
                state="complete" if done else "error",
                expanded=not done,
            )
    finally:
        run.stop()  # the page was left or re-run while training: do not leave the job behind
    st.session_state["train_result"] = {
        "app": app,
        "out": out.strip(),
        "returncode": code,
        "metrics": run.metrics,
        "stderr": "\n".join(run.stderr_tail),
        "log": "\n".join(run.stdout[-200:]),
    }

result = st.session_state.get("train_result")
if result is None:
    st.info("Choose the data and press **Train**. The progress and the log appear here while it runs.")
elif result["returncode"] != 0:
    st.subheader("Training failed")
    st.error(f"`deepseek-apps {result['app']} train` exited with status {result['returncode']}.")
    st.code(result["stderr"] or "(nothing on stderr)", language=None)
else:
    trained = APPLICATIONS[result["app"]]
    metrics = result["metrics"] or {}
    saved = metrics.get("out", result["out"])
    st.subheader("Result")
    st.success(f"Model saved to `{saved}`")
    if metrics:
        numbers = {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        if numbers:
            for column, (name, value) in zip(st.columns(min(len(numbers), 6)), list(numbers.items())[:6]):
                column.metric(name, f"{value:.4g}" if isinstance(value, float) else value)
        st.markdown("**Final metrics**")
        st.json(metrics, expanded=2)
    else:
        st.warning("The command did not end with a metrics JSON line; see the log above.")
    st.markdown(model_hint(result["app"], saved))
    st.page_link(trained.page, label=f"Open the {trained.page_title} page", icon=":material/arrow_forward:")
    with st.expander("Log"):
        st.code(result["log"] or " ", language=None)
