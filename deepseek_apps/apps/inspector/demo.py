"""``make demo``: score generated samples (and real NEU-DET check images when present) with the default.

python -m deepseek_apps.apps.inspector.demo --out demo_out [--data ../shared/data/neu_det]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...datasets.synthetic import generate_samples
from .app import QualityInspector
from .scoring import format_summary, score_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data/neu_det"))
    parser.add_argument("--samples", type=int, default=24)
    args = parser.parse_args(argv)

    samples_dir = args.out / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    for sample in generate_samples(args.samples, seed=2026):
        sample.image.save(samples_dir / f"{sample.name}.png")
    inputs = [str(samples_dir)]
    real = args.data / "Validation_Images"
    if real.is_dir():
        inputs.append(str(real))
        print(f"also scoring the {len(list(real.iterdir()))} NEU-DET check images in {real} (never used in training)")
    else:
        print(f"{real} not found: scoring generated samples only")

    inspector = QualityInspector()
    manifest = inspector.model_.metadata
    print(
        f"model: {manifest.get('model_name')} ({manifest.get('precision')}), classes: {', '.join(inspector.class_names)}"
    )
    summary = score_files(inspector, inputs, args.out / "results.jsonl", args.out / "annotated")
    print()
    print(format_summary(summary, inspector.class_names))
    print(f"\nresults: {args.out / 'results.jsonl'}\nannotated images: {args.out / 'annotated'}")
    (args.out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
