"""The apps' training loop under torchrun: 2 processes, gloo on CPU, gradients really synced."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = r"""
import hashlib, json, os, sys
import torch
from deepseek_apps.apps.inspector.model import DetectorConfig
from deepseek_apps.apps.inspector.train import train_detector
from deepseek_apps.core.train import TrainConfig
from deepseek_apps.datasets import load_dataset

out, data = sys.argv[1], sys.argv[2]
ds = load_dataset(data, "voc")
cfg = DetectorConfig(
    num_classes=len(ds.class_names), input_size=96, widths=(8, 16, 16, 32, 32), fpn_channels=32, backbone="tiny"
)
model, result, meta = train_detector(ds, cfg, TrainConfig(epochs=2, batch_size=4, out_dir=out, progress=False),
                                     val_fraction=0.2, test_fraction=0.0)
import torch.distributed as dist
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()
rank = int(os.environ.get("RANK", "0"))
with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
    json.dump({"rank": rank, "world": int(os.environ.get("WORLD_SIZE", "1")), "digest": digest,
               "epochs": len(result.history)}, fh)
"""


def test_inspector_training_runs_under_torchrun_with_two_processes(tmp_path, synthetic_voc):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", str(script), str(out), str(synthetic_voc)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    # DDP averaged the gradients: both replicas end with identical weights.
    assert ranks[0]["digest"] == ranks[1]["digest"]
    assert ranks[0]["epochs"] == ranks[1]["epochs"] == 2
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and "map50" in history[0]
    assert (out / "best.safetensors").exists()
