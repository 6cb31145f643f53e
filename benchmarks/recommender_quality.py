"""DIN, DIN+Dice and BaseModel vs DeepCTR-Torch's DIN on MovieLens-100K, same samples, one process.

Protocol (../shared/data/README.md): every rating a click, per-user time order, history =
previous 50 items with first-genre categories, one sampled negative per positive (data
seed 0), last event per user = test, second-to-last = validation. Every model: embedding
16, MLP 200-80, attention MLP 64-16, batch 256, Adam 1e-3, 5 epochs; the test numbers are
those of the epoch with the best validation GAUC. User features: gender, age bucket,
occupation. Training throughput = training samples / wall time of the training steps.

    python benchmarks/recommender_quality.py --seeds 0 1 2 --threads 1

DeepCTR-Torch is not a dependency: ``pip install deepctr-torch --no-deps scikit-learn``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from deepseek_apps.apps.recommender.data import build_samples
from deepseek_apps.apps.recommender.loaders import load_log
from deepseek_apps.apps.recommender.metrics import evaluate_scores, rela_impr
from deepseek_apps.apps.recommender.model import DIN, DINConfig
from deepseek_apps.apps.recommender.train import TrainSettings, evaluate_model, train_model
from deepseek_apps.core.bench import cpu_info

ROOT = Path(__file__).resolve().parents[1]


def run_ours(splits, variant: str, seed: int, epochs: int) -> dict:
    c = splits.catalog
    pooling, activation = {"din": ("attention", "prelu"), "din_dice": ("attention", "dice"), "base": ("sum", "prelu")}[
        variant
    ]
    torch.manual_seed(seed)
    model = DIN(
        DINConfig(
            c.n_items,
            len(c.category_names),
            tuple(len(v) + 1 for v in c.user_feature_vocab),
            pooling=pooling,
            activation=activation,
        )
    )
    history = train_model(
        model, splits, TrainSettings(epochs=epochs, patience=epochs, seed=seed, progress=False), desc=variant
    )
    test = evaluate_model(model, splits.test, c)
    rate = float(np.mean([e.samples_per_s for e in history]))
    return {
        "test": test.to_dict(),
        "samples_per_s": rate,
        "best_epoch": int(np.argmax([e.valid.gauc for e in history]) + 1),
    }


def _left_aligned(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeepCTR masks by length with the valid items first; ours are left-padded."""
    lengths = (hist != 0).sum(1)
    out = np.zeros_like(hist)
    for i, n in enumerate(lengths):
        if n:
            out[i, :n] = hist[i, -n:]
    return out, lengths


def deepctr_inputs(samples, catalog) -> tuple[dict, np.ndarray]:
    hist, lengths = _left_aligned(samples.hist_items.astype(np.int64))
    hcat, _ = _left_aligned(samples.hist_cats.astype(np.int64))
    x = {name: catalog.user_feature_codes[samples.user, i] for i, name in enumerate(catalog.user_feature_names)}
    x.update(item=samples.item, cat=samples.category, hist_item=hist, hist_cat=hcat, seq_length=lengths)
    return x, samples.label


def run_deepctr(splits, seed: int, epochs: int) -> dict:
    from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat
    from deepctr_torch.models import DIN as DeepCTRDIN

    c = splits.catalog
    feats = [SparseFeat(n, len(v) + 1, embedding_dim=16) for n, v in zip(c.user_feature_names, c.user_feature_vocab)]
    feats += [
        SparseFeat("item", c.n_items + 1, embedding_dim=16),
        SparseFeat("cat", len(c.category_names) + 1, embedding_dim=16),
    ]
    feats += [
        VarLenSparseFeat(
            SparseFeat("hist_item", c.n_items + 1, embedding_dim=16, embedding_name="item"),
            50,
            length_name="seq_length",
        ),
        VarLenSparseFeat(
            SparseFeat("hist_cat", len(c.category_names) + 1, embedding_dim=16, embedding_name="cat"),
            50,
            length_name="seq_length",
        ),
    ]
    torch.manual_seed(seed)
    model = DeepCTRDIN(feats, ["item", "cat"], dnn_hidden_units=(200, 80), att_hidden_size=(64, 16), seed=seed)
    model.compile("adam", "binary_crossentropy")
    x_train, y_train = deepctr_inputs(splits.train, c)
    x_valid, y_valid = deepctr_inputs(splits.valid, c)
    x_test, y_test = deepctr_inputs(splits.test, c)
    best, rates = None, []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.fit(x_train, y_train, batch_size=256, epochs=1, verbose=0, shuffle=True)
        rates.append(len(y_train) / (time.perf_counter() - t0))
        valid = evaluate_scores(y_valid, model.predict(x_valid, 4096).ravel(), splits.valid.user)
        if best is None or valid.gauc > best[0]:
            test = evaluate_scores(y_test, model.predict(x_test, 4096).ravel(), splits.test.user)
            best = (valid.gauc, epoch, test)
    return {"test": best[2].to_dict(), "samples_per_s": float(np.mean(rates)), "best_epoch": best[1]}


def interleaved_throughput(splits, rounds: int, samples: int, compile_dice: bool) -> dict:
    """Training samples/s of every trainer on the same ``samples`` training samples, rounds interleaved.

    The machine is shared, so each round times every variant back to back and the median
    over rounds is reported: a load spike hits all variants alike instead of one of them.
    """
    from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat
    from deepctr_torch.models import DIN as DeepCTRDIN

    from deepseek_apps.apps.recommender.model import compiled_dice
    from deepseek_apps.apps.recommender.train import EpochRunner, TensorSamples

    c = splits.catalog
    sub = splits.train.subset(np.arange(samples))
    tensors = TensorSamples(sub, c)
    vocab = tuple(len(v) + 1 for v in c.user_feature_vocab)
    runners = {}
    for name, pooling, act in (
        ("base", "sum", "prelu"),
        ("din", "attention", "prelu"),
        ("din_dice", "attention", "dice"),
    ):
        model = DIN(DINConfig(c.n_items, len(c.category_names), vocab, pooling=pooling, activation=act))
        runners[name] = EpochRunner(model, tensors, TrainSettings(progress=False))
    feats = [SparseFeat(n, len(v) + 1, embedding_dim=16) for n, v in zip(c.user_feature_names, c.user_feature_vocab)]
    feats += [
        SparseFeat("item", c.n_items + 1, embedding_dim=16),
        SparseFeat("cat", len(c.category_names) + 1, embedding_dim=16),
    ]
    feats += [
        VarLenSparseFeat(
            SparseFeat("hist_item", c.n_items + 1, embedding_dim=16, embedding_name="item"),
            50,
            length_name="seq_length",
        ),
        VarLenSparseFeat(
            SparseFeat("hist_cat", len(c.category_names) + 1, embedding_dim=16, embedding_name="cat"),
            50,
            length_name="seq_length",
        ),
    ]
    ref = DeepCTRDIN(feats, ["item", "cat"], dnn_hidden_units=(200, 80), att_hidden_size=(64, 16))
    ref.compile("adam", "binary_crossentropy")
    x, y = deepctr_inputs(sub, c)
    rates: dict[str, list[float]] = {k: [] for k in ("deepctr_din", *runners, "din_dice_compiled")}
    compile_s = 0.0
    if compile_dice:
        t0 = time.perf_counter()
        compiled_dice(True)
        runners["din_dice"].run(limit=2 * 256)  # compile once (dynamic shapes), outside the timing
        compile_s = time.perf_counter() - t0
        compiled_dice(False)
    for r in range(rounds):
        t0 = time.perf_counter()
        ref.fit(x, y, batch_size=256, epochs=1, verbose=0, shuffle=True)
        rates["deepctr_din"].append(samples / (time.perf_counter() - t0))
        for name, runner in runners.items():
            rates[name].append(runner.run()[1])
        if compile_dice:
            compiled_dice(True)
            rates["din_dice_compiled"].append(runners["din_dice"].run()[1])
            compiled_dice(False)
        print(f"throughput round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items() if v), flush=True)
    return {
        "median_samples_per_s": {k: float(np.median(v)) for k, v in rates.items() if v},
        "rounds": rates,
        "compile_s": compile_s,
    }


def throughput_table(res: dict) -> str:
    med = res["median_samples_per_s"]
    ref = med["deepctr_din"]
    names = {
        "deepctr_din": "DeepCTR-Torch 0.3.0 DIN (Dice in attention)",
        "base": "ours BaseModel",
        "din": "ours DIN (PReLU)",
        "din_dice": "ours DIN + Dice (eager)",
        "din_dice_compiled": f"ours DIN + Dice (compiled Dice; one-off compile {res['compile_s']:.0f} s not included)",
    }
    rows = ["| trainer | train samples/s (median) | vs DeepCTR DIN |", "|---|---|---|"]
    rows += [f"| {names[k]} | {v:,.0f} | {v / ref:.2f}x |" for k, v in med.items()]
    return "\n".join(rows)


def summarise(runs: dict[str, list[dict]]) -> dict:
    out = {}
    for name, rs in runs.items():
        auc = [r["test"]["auc"] for r in rs]
        gauc = [r["test"]["gauc"] for r in rs]
        rate = [r["samples_per_s"] for r in rs]
        out[name] = {
            "auc_mean": float(np.mean(auc)),
            "auc_std": float(np.std(auc)),
            "gauc_mean": float(np.mean(gauc)),
            "gauc_std": float(np.std(gauc)),
            "samples_per_s": float(np.mean(rate)),
            "runs": len(rs),
        }
    return out


def table(summary: dict) -> str:
    ref = summary.get("deepctr_din")
    base = summary.get("base")
    rows = [
        "| model | test AUC | test GAUC | RelaImpr vs BaseModel (AUC) | train samples/s | throughput vs DeepCTR DIN |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "base": "BaseModel (ours, sum pooling)",
        "din": "DIN (ours, PReLU)",
        "din_dice": "DIN + Dice (ours)",
        "deepctr_din": "DeepCTR-Torch 0.3.0 DIN",
    }
    for key, s in summary.items():
        ri = f"{rela_impr(s['auc_mean'], base['auc_mean']):+.2f}%" if base else "-"
        speed = f"{s['samples_per_s'] / ref['samples_per_s']:.2f}x" if ref else "-"
        rows.append(
            f"| {names.get(key, key)} | {s['auc_mean']:.4f} +- {s['auc_std']:.4f} | {s['gauc_mean']:.4f} +- {s['gauc_std']:.4f} | {ri} | {s['samples_per_s']:,.0f} | {speed} |"
        )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "movielens_100k"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variants", nargs="+", default=["base", "din", "din_dice", "deepctr_din"])
    p.add_argument("--out", default="bench_out")
    p.add_argument("--throughput-only", action="store_true", help="only the interleaved training-throughput rounds")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--throughput-samples", type=int, default=25_600)
    p.add_argument("--no-compile", action="store_true", help="skip the compiled-Dice variant")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    splits = build_samples(load_log(args.data, format="movielens"), max_len=50, negatives=1, seed=0)
    print(f"samples train/valid/test: {len(splits.train):,} / {len(splits.valid):,} / {len(splits.test):,}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.throughput_only:
        res = interleaved_throughput(splits, args.rounds, args.throughput_samples, not args.no_compile)
        md = throughput_table(res)
        print(md)
        meta = {
            "date": time.strftime("%Y-%m-%d"),
            "cpu": cpu_info(),
            "threads": args.threads,
            "samples": args.throughput_samples,
        }
        (out / "recommender_throughput.json").write_text(json.dumps({"meta": meta, **res}, indent=1))
        (out / "recommender_throughput.md").write_text(f"{meta}\n\n{md}\n")
        return
    runs: dict[str, list[dict]] = {v: [] for v in args.variants}
    for seed in args.seeds:
        for variant in args.variants:
            r = (
                run_deepctr(splits, seed, args.epochs)
                if variant == "deepctr_din"
                else run_ours(splits, variant, seed, args.epochs)
            )
            runs[variant].append(r)
            print(
                f"seed {seed} {variant}: test AUC {r['test']['auc']:.4f} GAUC {r['test']['gauc']:.4f} ({r['samples_per_s']:,.0f} samples/s, best epoch {r['best_epoch']})",
                flush=True,
            )
    summary = summarise(runs)
    md = table(summary)
    print(md)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu_info(),
        "threads": args.threads,
        "seeds": args.seeds,
        "epochs": args.epochs,
    }
    (out / "recommender_quality.json").write_text(
        json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=1, default=float)
    )
    (out / "recommender_quality.md").write_text(f"{meta}\n\n{md}\n")


if __name__ == "__main__":
    main()
