"""The embedded default model and the ``make demo`` walk-through.

``python -m deepseek_apps.apps.recommender.demo --train-default`` re-creates the shipped
model (synthetic demo catalog, ``generate_log(seed=0)``); without it, the demo loads the
default, prints top-5 lists with what drove them, and runs the service (with Redis when
``--redis-url`` is given).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...core.registry import get_model
from .app import DINRecommender
from .synthetic import generate_log

CARD = """# DINRecommender default model (synthetic demo catalog)

- **What**: Deep Interest Network (Zhou et al., KDD 2018) with PReLU, embedding 16, attention MLP 64-16,
  MLP 200-80, history of the last {max_len} clicks, one user feature (`segment`).
- **Trained on**: `deepseek_apps.apps.recommender.synthetic.generate_log(seed=0)`: {users} users, {items} items,
  {cats} categories, {clicks} clicks; interests drift over time. Synthetic, made by this project, no personal data.
- **Protocol**: per-user time order; last click = test, second-to-last = validation, one sampled negative per click.
- **Metrics** (this catalog only; not a statement about real users):
  validation AUC {vauc:.4f} / GAUC {vgauc:.4f}; test AUC {tauc:.4f} / GAUC {tgauc:.4f};
  BaseModel test AUC {bauc:.4f} (RelaImpr {ri:+.2f}%).
- **Use**: demos, tests and a template. Train your own with `deepseek-apps recommender train`.
- **Cold start**: unknown users get an empty history (item-only scores); unknown items score with no item signal.
- **Files**: `model.safetensors` (weights), `catalog.safetensors` (categories, user features, histories),
  `config.json` (architecture, vocabularies, metrics, sha256 of both files).
- **Re-create**: `python -m deepseek_apps.apps.recommender.demo --train-default`.
"""


def train_default(out: Path | None = None) -> DINRecommender:
    """Re-create the shipped default model (``out``: default, where the registry points)."""
    from .train import TrainSettings

    out = Path(out) if out is not None else get_model("recommender").path

    log = generate_log(seed=0)
    rec = DINRecommender(train_settings=TrainSettings(epochs=8, patience=3, seed=0, threads=1, progress=False))
    rec.fit(log, baseline=True)
    rec.save(out)
    m = rec.metrics_
    (out.parent / "MODEL_CARD.md").write_text(
        CARD.format(
            max_len=rec.max_len_,
            users=rec.catalog_.n_users,
            items=rec.catalog_.n_items,
            cats=len(rec.catalog_.category_names),
            clicks=len(log),
            vauc=m["valid"]["auc"],
            vgauc=m["valid"]["gauc"],
            tauc=m["test"]["auc"],
            tgauc=m["test"]["gauc"],
            bauc=m["baseline_test"]["auc"],
            ri=m["rela_impr_test_auc"],
        )
    )
    return rec


def run_demo(redis_url: str | None, users: int = 3) -> dict:
    from .serving import RecommendationService

    rec = DINRecommender()
    print(f"default model: test {json.dumps(rec.metrics_['test'])}")
    for user in range(users):
        print(f"\nuser {user}: last clicks {rec.history_of(user)[-5:]}")
        for r in rec.recommend(user, k=5):
            drivers = ", ".join(f"{item} ({w:.2f})" for item, w in r.top_history(2))
            print(f"  {r.rank}. item {r.item_id} [{r.category}] p={r.score:.3f}  driven by: {drivers}")
    with RecommendationService(rec, redis_url=redis_url) as service:
        for _ in range(3):
            service.recommend(0, k=5)
        top = service.recommend(0, k=5)
        service.record(0, top[0].item_id)
        service.recommend(0, k=5)
        stats = service.stats()
    print(f"\nservice: {json.dumps(stats.to_dict())}")
    return stats.to_dict()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-default", action="store_true", help="re-create the embedded default model")
    p.add_argument("--redis-url", default=None)
    p.add_argument("--start-redis", action="store_true", help="start a local redis-server for the demo (if installed)")
    args = p.parse_args(argv)
    if args.train_default:
        rec = train_default()
        print(
            json.dumps({k: rec.metrics_[k] for k in ("valid", "test", "baseline_test", "rela_impr_test_auc")}, indent=1)
        )
        return 0
    if args.start_redis and not args.redis_url:
        from ...core.runtime.redis_local import LocalRedis

        if LocalRedis.available():
            with LocalRedis() as server:
                print(f"redis-server started at {server.url}")
                run_demo(server.url)
            return 0
        print("redis-server not installed: the demo runs with the in-process cache only")
    run_demo(args.redis_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
