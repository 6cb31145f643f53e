"""Maintainers: make a trained clause model folder the ContractParser's shipped default.

    python scripts/release_contracts.py --run runs/c6 --half-only   # FP16 in place (the FP32 file kept aside)
    python benchmarks/contracts_rerank.py --model runs/c6 --write runs/c6   # stacker + re-ranker on its outputs
    python scripts/release_contracts.py --run runs/c6 --continued-from "the model shipped 2026-12-07 plus one epoch"
    python scripts/release_contracts.py --run runs/c3 --assets deepseek_apps/assets/contracts_fast \
        --lexical-from default --continued-from "..." --distilled-from "the default model of 2026-12-07"

``--half-only`` first, so that the stacker and the re-ranker are fitted on the outputs of the
weights that ship. Then the script copies the run's tagger and lexical scorer into ``deepseek_apps/assets/contracts/``, stores the
tagger's adapters and heads in FP16 (1.4 MB instead of 2.9; the INT8 encoder is built from them,
so FP16 storage costs nothing measurable: window AUPR 0.670 either way on 2026-12-07), and
replaces the run's machine-specific ``config.init`` path by ``--continued-from``. The window
stacker and span re-ranker travel inside ``clause_tagger.json``: it refuses a run without them. The model card, ``models.json`` and the README
are written by hand from the benchmarks.

``--assets`` releases into another shipped model's folder (e.g. the 3-layer ``fast`` model);
``--lexical-from NAME`` then leaves the lexical scorer out and points at that shipped model's,
after checking the run's own scorer is byte for byte the same file.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
from safetensors.numpy import load, save

from deepseek_apps.apps.contracts.clauses.folder import CONFIG_FILE, WEIGHTS_FILE, default_dir
from deepseek_apps.core.registry import get_model

LEXICAL_FILES = ("clause_lexical.json", "clause_lexical.safetensors")
FP32_COPY = "clause_tagger.fp32.safetensors"


def to_half(run: Path) -> Path:
    """Store the run's tagger weights in FP16 in place; the FP32 file is kept as ``FP32_COPY``."""
    weights = run / WEIGHTS_FILE
    tensors = load(weights.read_bytes())
    if all(v.dtype == np.float16 for v in tensors.values() if np.issubdtype(v.dtype, np.floating)):
        return weights
    shutil.copyfile(weights, run / FP32_COPY)
    half = {k: v.astype(np.float16) if np.issubdtype(v.dtype, np.floating) else v for k, v in tensors.items()}
    weights.write_bytes(save(half))  # write_bytes: mode 0644 under the umask
    meta = json.loads((run / CONFIG_FILE).read_text())
    meta["stored_as"] = "float16"
    (run / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    return weights


def release(
    run: Path,
    continued_from: str | None,
    assets: Path | None = None,
    lexical_from: str | None = None,
    distilled_from: str | None = None,
) -> Path:
    assets = assets or default_dir()
    assets.mkdir(parents=True, exist_ok=True)
    to_half(run)
    meta = json.loads((run / CONFIG_FILE).read_text())
    for key in ("span_reranker", "window_stacker"):
        if key not in meta:
            raise SystemExit(
                f"{run / CONFIG_FILE} has no {key}: run benchmarks/contracts_rerank.py --write {run} first"
            )
    meta["saved"] = date.today().isoformat()
    if continued_from:
        meta["continued_from"] = continued_from
        meta["config"]["init"] = continued_from
    if meta["config"].get("teacher"):
        if not distilled_from:
            raise SystemExit("the run was distilled from a teacher folder: say which model with --distilled-from")
        meta["config"]["teacher"] = distilled_from
    meta.pop("validation", None)  # the run's own report; the card gives the released figures
    if lexical_from:
        shared = get_model("contracts", lexical_from).path
        differ = [name for name in LEXICAL_FILES if (run / name).read_bytes() != (shared / name).read_bytes()]
        if differ:
            raise SystemExit(
                f"the run's lexical scorer is not the {lexical_from!r} model's ({differ}): copy it instead"
            )
        meta["lexical_from"] = lexical_from
    shutil.copyfile(run / WEIGHTS_FILE, assets / WEIGHTS_FILE)
    (assets / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    for name in LEXICAL_FILES:
        if lexical_from:
            (assets / name).unlink(missing_ok=True)
        else:
            shutil.copyfile(run / name, assets / name)
    return assets


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="model folder written by `contracts train`")
    parser.add_argument("--continued-from", default=None, help="what the run started from, for the metadata")
    parser.add_argument("--half-only", action="store_true", help="only store the run's weights in FP16, in place")
    parser.add_argument(
        "--assets", type=Path, default=None, help="the shipped folder to write (default: the default model's)"
    )
    parser.add_argument("--lexical-from", default=None, help="share this shipped model's lexical scorer (same file)")
    parser.add_argument("--distilled-from", default=None, help="the teacher model, for the metadata")
    args = parser.parse_args(argv)
    if args.half_only:
        print(to_half(args.run))
    else:
        print(release(args.run, args.continued_from, args.assets, args.lexical_from, args.distilled_from))


if __name__ == "__main__":
    main()
