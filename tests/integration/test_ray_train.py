"""The core Trainer inside Ray Train (2 workers, gloo on CPU): replicas agree, a lost worker is resumed."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_two_workers_train_agree_and_survive_a_lost_worker(tmp_path):
    from deepseek_apps.apps.classifier.ray_adapter import train_classifier_on_ray
    from deepseek_apps.core.train import TrainConfig

    marker, out = tmp_path / "killed", tmp_path / "run"
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (64, 3, 8, 8)).astype(np.uint8)
    y = (x[:, 0].mean(axis=(1, 2)) > 127).astype(np.int64)

    def build():
        import torch
        from torch import nn

        from deepseek_apps.apps.classifier.model import ClassifierGraph

        class Tiny(nn.Module):
            """Conv + linear; on rank 1 it kills its own process once, in the second epoch."""

            def __init__(self):
                super().__init__()
                self.conv, self.fc, self.calls = nn.Conv2d(3, 4, 3), nn.Linear(4, 2), 0

            def forward(self, t):
                self.calls += 1
                if self.training and os.environ.get("RANK") == "1" and self.calls == 6 and not marker.exists():
                    marker.write_text("rank 1 lost in epoch 2")
                    os.kill(os.getpid(), signal.SIGKILL)
                return self.fc(torch.relu(self.conv(t)).mean(dim=(2, 3)))

        torch.manual_seed(0)
        return ClassifierGraph(Tiny())

    graph = build()
    cfg = TrainConfig(epochs=3, batch_size=8, lr=1e-2, out_dir=str(out), progress=False, threads=1)
    result = train_classifier_on_ray(graph, x, y, x[:16], y[:16], cfg, workers=2, max_failures=1)
    assert marker.exists(), "no worker was lost: the resume path was not exercised"
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3]  # epoch 1 not repeated after the restart
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    # the best weights are in the model folder, and Ray kept a checkpoint per epoch plus the final one
    assert (out / "best.safetensors").exists()
    checkpoints = sorted((tmp_path / ".ray_train" / "run").glob("checkpoint_*"))
    assert len(checkpoints) >= 3


def test_replicas_agree_after_ray_train(tmp_path):
    """Each rank's final weights hashed; DDP averaged the gradients, so both hashes are equal."""
    from deepseek_apps.core.scale.ray_train import fit_on_ray

    out = tmp_path / "run"

    def train():
        import hashlib

        import torch
        from torch import nn

        from deepseek_apps.core.train import TrainConfig, Trainer

        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        items = [(np.float32(i % 7) / 7, np.float32(i % 3)) for i in range(64)]

        def collate(batch, rng):
            a = torch.tensor([[v, v * v, 1 - v, rng.random()] for v, _ in batch], dtype=torch.float32)
            return a, torch.tensor([[t] for _, t in batch], dtype=torch.float32)

        def loss_fn(net, batch):
            return nn.functional.mse_loss(net(batch[0]), batch[1])

        cfg = TrainConfig(epochs=2, batch_size=8, out_dir=str(out), progress=False, threads=1, monitor="neg_loss")
        result = Trainer(cfg).fit(model, items, collate, loss_fn, lambda m: {})
        digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()
        Path(out / f"rank{os.environ['RANK']}.json").write_text(
            json.dumps({"digest": digest, "world": os.environ["WORLD_SIZE"]})
        )
        return result.to_dict()

    run = fit_on_ray(train, out, workers=2, max_failures=0)
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == ["2", "2"]
    assert ranks[0]["digest"] == ranks[1]["digest"]
    assert [h["epoch"] for h in run.value["history"]] == [1, 2]
    assert run.metrics.get("finished") == 1 and run.checkpoint


def test_an_app_fits_on_ray_workers_and_comes_back_as_a_saved_model(tmp_path):
    """DINRecommender.fit on 2 Ray Train workers: rank 0 saves, the driver opens the folder, metrics are rank 0's."""
    from deepseek_apps import DINRecommender
    from deepseek_apps.apps.recommender.synthetic import generate_log
    from deepseek_apps.apps.recommender.train import TrainSettings
    from deepseek_apps.core.scale.ray_train import fit_app_on_ray

    log = generate_log(n_users=40, n_items=30, seed=1)
    out = tmp_path / "rec"
    settings = TrainSettings(epochs=2, progress=False, out_dir=str(out))  # as `recommender train --engine ray`
    rec, metrics = fit_app_on_ray(DINRecommender(max_len=10, train_settings=settings), log, {}, out, workers=2)
    assert any(out.glob("*.safetensors")) and "test" in metrics and metrics == rec.metrics_
    # each epoch's Trainer checkpoint went to Ray (a lost worker resumes from it, as the inspector test shows)
    assert (out / "last_state.pt").exists() and len(list((tmp_path / ".ray_train" / "rec").glob("checkpoint_*"))) >= 2
    again = DINRecommender.load(out)
    user = log.users[0]
    assert [r.item_id for r in rec.recommend(user, k=5)] == [r.item_id for r in again.recommend(user, k=5)]


@pytest.mark.parametrize("kind", ["transactions", "entities"])
def test_fraud_gnn_trains_under_ddp_on_ray_and_replicas_agree(tmp_path, kind):
    """FraudDetector.fit on 2 Ray Train workers: the GNN ran in a world of 2, both ranks end with the same model."""
    from functools import partial

    from deepseek_apps.core.scale.ray_train import fit_on_ray

    def _fraud_replica(kind: str, out: str) -> dict:  # nested: Ray pickles it by value
        """One Ray Train worker: fit a small FraudDetector (GNN under DDP), write a digest of its models."""
        import hashlib

        import torch

        from deepseek_apps import FraudDetector
        from deepseek_apps.apps.fraud.entities import EntityTask
        from deepseek_apps.apps.fraud.entities.synthetic import generate_entities
        from deepseek_apps.apps.fraud.model import GNNConfig
        from deepseek_apps.apps.fraud.synthetic import generate_transactions
        from deepseek_apps.apps.fraud.trees import TreeConfig

        if kind == "entities":
            nodes, edges = generate_entities(400, seed=3, fraud_rate=0.1)
            task = EntityTask(directed=("transfer",), epochs=3, hidden=8, folds=2)
            det = FraudDetector(task=task, arch="gnn", seed=0).fit(nodes, edges)
            weights = {f"{i}.{k}": v for i, g in enumerate(det.entity_model_.gnns) for k, v in g.state_dict().items()}
            scores = [s.score for s in det.score_entities(nodes["id"].tolist()[:50])]
        else:
            table = generate_transactions(1500, fraud_rate=0.05, seed=2)
            det = FraudDetector(gnn=GNNConfig(epochs=2, hidden=8), trees=TreeConfig(n_estimators=20), seed=0)
            det.fit(table, progress=False)
            weights = det.gnn_.state_dict()
            scores = [s.score for s in det.score_history(reasons=False)[:50]]
        digest = hashlib.sha256(b"".join(t.detach().numpy().tobytes() for t in weights.values())).hexdigest()
        world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        Path(out, f"{kind}-rank{os.environ['RANK']}.json").write_text(
            json.dumps({"digest": digest, "scores": scores, "world": world})
        )
        return {"arch": det.arch_}

    out = tmp_path / "run"
    out.mkdir()
    fit_on_ray(partial(_fraud_replica, kind, str(out)), out, workers=2, max_failures=0)
    ranks = [json.loads((out / f"{kind}-rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["digest"] == ranks[1]["digest"] and ranks[0]["scores"] == ranks[1]["scores"]


def test_fraud_train_cli_on_ray_gives_the_local_models_trees(tmp_path):
    """``fraud train --engine ray --workers 2``: rank 0's model comes back to --out; its trees equal a local run's."""
    from deepseek_apps import FraudDetector
    from deepseek_apps.cli import main

    args = ["fraud", "train", "--data", "synthetic:1500", "--epochs", "2", "--arch", "trees", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2"]) == 0
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    on_ray, local = FraudDetector.load(tmp_path / "ray"), FraudDetector.load(tmp_path / "local")
    assert on_ray.arch_ == local.arch_ == "trees"
    assert on_ray.metrics_["test"]["trees"] == local.metrics_["test"]["trees"]
    scores = [[s.score for s in d.score_history(reasons=False)[:20]] for d in (on_ray, local)]
    assert scores[0] == scores[1]
