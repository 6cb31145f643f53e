"""The contract case of ``ContractParser``: a tiny generated CUAD-layout folder, a 2-step fit."""

from __future__ import annotations

from deepseek_apps.apps.contracts.app import ContractParser
from deepseek_apps.apps.contracts.clauses.data import write_cuad_layout
from deepseek_apps.apps.contracts.synthetic import generate_contracts

from .cases import ContractCase

APP_CLASS = ContractParser
CORRUPT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n garbage"


def _comparable(result) -> tuple:
    return (
        sorted(p.name for p in result.parties),
        result.governing_law,
        sorted({c.category for c in result.clauses}),
    )


def make_case(tmp_path) -> ContractCase:
    contracts = generate_contracts(4, seed=11)
    data = write_cuad_layout(contracts, tmp_path / "cuad")
    good = [contracts[0].text.encode("utf-8"), ("msa.txt", contracts[1].text.encode("utf-8"))]
    return ContractCase(
        cls=ContractParser,
        params={"min_confidence": 0.6, "threads": 2},
        fit_data=data,
        fit_kwargs={
            "val_fraction": 0.25,
            "epochs": 1,
            "progress": False,
            "max_steps": 2,
            "rank": 2,
            "batch_size": 8,
        },  # fmt: skip
        good=good,
        bad=("x.pdf", CORRUPT_PDF),
        eval_data=data,
        comparable=_comparable,
        load_overrides={"min_confidence": 0.6},
    )
