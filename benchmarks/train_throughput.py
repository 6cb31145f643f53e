"""Training throughput of every app's loop, before vs after the one-engine change, on this CPU.

Each (app, variant) runs in its own process with ``PYTHONPATH`` pointing at a source tree, and
the variants are interleaved (before, after, before, after, ...), so both see the same machine.
"before" is the current package with the training-loop files taken from a git revision
(default ``HEAD``): everything else is identical, so the difference is the engine alone.
The quality number of each short fit is printed next to its speed (same seed: it should match).

Usage:
    flock /tmp/cpu.lock python benchmarks/train_throughput.py --reps 2 --json out.json
    python benchmarks/train_throughput.py --apps recommender,distill --before-ref HEAD
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE_FILES = [
    "deepseek_apps/core/train.py",
    "deepseek_apps/apps/recommender/train.py",
    "deepseek_apps/apps/contracts/clauses/train.py",
    "deepseek_apps/apps/fraud/model.py",
    "deepseek_apps/core/compress/distill.py",
]
NEW_FILES = ["deepseek_apps/core/device.py", "deepseek_apps/core/train_state.py"]

WORKLOADS = {
    "inspector": r"""
from deepseek_apps.apps.inspector.model import DetectorConfig
from deepseek_apps.apps.inspector.train import train_detector
from deepseek_apps.core.train import TrainConfig
from deepseek_apps.datasets import load_dataset
from deepseek_apps.datasets.synthetic import write_voc
data = write_voc(Path(work) / "voc", 48, seed=11)
ds = load_dataset(data, "voc")
cfg = DetectorConfig(
    num_classes=len(ds.class_names), input_size=128, widths=(8, 16, 16, 32, 32), fpn_channels=32, backbone="tiny"
)
tc = TrainConfig(epochs=3, batch_size=8, out_dir=str(Path(work) / "det"), progress=False, resume=False)
model, result, meta = train_detector(ds, cfg, tc, val_fraction=0.2, test_fraction=0.0)
h = result.history
out = {"unit": "images/s", "rate": meta["split"]["train"] * len(h) / sum(r.get("train_seconds", r["seconds"]) for r in h),
       "quality": {"val_map50": result.best_metric}}
""",
    "recommender": r"""
from deepseek_apps import DINRecommender
from deepseek_apps.apps.recommender.synthetic import generate_log
rec = DINRecommender(max_len=20).fit(generate_log(n_users=800, n_items=400), epochs=3, progress=False)
e = rec.metrics_["epochs"]
out = {"unit": "samples/s", "rate": sum(x["samples_per_s"] for x in e) / len(e),
       "quality": {"test_auc": rec.metrics_["test"]["auc"], "test_gauc": rec.metrics_["test"]["gauc"]}}
""",
    "fraud": r"""
from deepseek_apps import FraudDetector
from deepseek_apps.apps.fraud.model import GNNConfig
from deepseek_apps.apps.fraud.synthetic import generate_transactions
from deepseek_apps.apps.fraud.trees import TreeConfig
det = FraudDetector(gnn=GNNConfig(epochs=4, hidden=16, patience=100), trees=TreeConfig(n_estimators=20))
det.fit(generate_transactions(3000, fraud_rate=0.05, seed=2), progress=False)
h = det.gnn_history_
out = {"unit": "s/epoch", "rate": sum(r["train_seconds"] for r in h) / len(h),
       "quality": {"val_auprc_last": h[-1]["val_auprc"], "epochs": len(h)}}
""",
    "contracts": r"""
from deepseek_apps.apps.contracts.clauses.data import load_labelled, write_cuad_layout
from deepseek_apps.apps.contracts.clauses.train import TrainConfig, train_tagger
from deepseek_apps.apps.contracts.synthetic import generate_contracts
import time
data = write_cuad_layout(generate_contracts(4, seed=11), Path(work) / "cuad")
contracts = load_labelled(data)
torch.set_num_threads(2)
t0 = time.perf_counter()
tagger, tok, losses = train_tagger(contracts, TrainConfig(epochs=1, rank=4, max_steps=8, batch_size=8), progress=False)
out = {"unit": "s/step (incl. model build)", "rate": (time.perf_counter() - t0) / 8, "quality": {"loss": losses[0]}}
""",
    "distill": r"""
from torch import nn
from deepseek_apps.core.compress.distill import distill
torch.manual_seed(0)
t = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
s = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
x, y = torch.randn(8192, 64), torch.randint(0, 10, (8192,))
r = distill(t, s, (x, y), epochs=3, batch_size=64, progress=False)
out = {"unit": "samples/s", "rate": 8192 * 3 / sum(r.seconds), "quality": {"kd_last": r.kd[-1]}}
""",
}
PRELUDE = "import json, sys\nfrom pathlib import Path\nimport torch\nwork = sys.argv[1]\n"
EPILOGUE = "\nprint('RESULT ' + json.dumps(out, default=float))\n"


def before_tree(ref: str, dest: Path) -> Path:
    """The working package with the engine files as they were at ``ref`` (new engine files removed)."""
    shutil.copytree(ROOT / "deepseek_apps", dest / "deepseek_apps", ignore=shutil.ignore_patterns("__pycache__"))
    for path in ENGINE_FILES:
        text = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True)
        (dest / path).write_text(text.stdout)
    for path in NEW_FILES:
        (dest / path).unlink(missing_ok=True)
    return dest


def run_one(app: str, tree: Path, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"tp-{app}-") as work:
        script = Path(work) / "w.py"
        script.write_text(PRELUDE + WORKLOADS[app] + EPILOGUE)
        env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        proc = subprocess.run(
            [sys.executable, str(script), work], capture_output=True, text=True, timeout=timeout, env=env, cwd=work
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": proc.stderr[-1500:]}
    return json.loads(lines[-1][len("RESULT ") :])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", default=",".join(WORKLOADS), help="comma-separated: " + ", ".join(WORKLOADS))
    ap.add_argument("--reps", type=int, default=2, help="interleaved repetitions per variant")
    ap.add_argument("--before-ref", default="HEAD", help="git revision of the 'before' engine files")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tp-before-") as tmp:
        trees = {"before": before_tree(args.before_ref, Path(tmp)), "after": ROOT}
        results: dict = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "apps": {}}
        for app in args.apps.split(","):
            runs = {"before": [], "after": []}
            for _ in range(args.reps):
                for variant, tree in trees.items():
                    runs[variant].append(run_one(app, tree, args.timeout))
            results["apps"][app] = _summary(runs)
            print(json.dumps({app: results["apps"][app]}, default=float), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    _table(results["apps"])
    return 0


def _summary(runs: dict) -> dict:
    out = {}
    for variant, items in runs.items():
        rates = [r["rate"] for r in items if "rate" in r]
        out[variant] = {
            "rates": rates,
            "median": sorted(rates)[len(rates) // 2] if rates else None,
            "unit": next((r["unit"] for r in items if "unit" in r), ""),
            "quality": next((r["quality"] for r in items if "quality" in r), None),
            "errors": [r["error"] for r in items if "error" in r],
        }
    b, a = out["before"]["median"], out["after"]["median"]
    if a and b:
        slower_is_better = out["after"]["unit"].startswith("s/")
        out["after_vs_before"] = (b / a) if slower_is_better else (a / b)  # > 1: the new engine is faster
    return out


def _table(apps: dict) -> None:
    print(f"\n{'app':12} {'unit':28} {'before':>10} {'after':>10} {'speed ratio':>12}  quality before -> after")
    for app, r in apps.items():
        b, a = r["before"], r["after"]
        ratio = r.get("after_vs_before")
        print(
            f"{app:12} {a['unit']:28} {b['median'] or float('nan'):10.3f} {a['median'] or float('nan'):10.3f} "
            f"{ratio if ratio else float('nan'):12.3f}  {b['quality']} -> {a['quality']}"
        )


if __name__ == "__main__":
    sys.exit(main())
