"""Synthetic contracts with known facts (``generate``) and their PDF / DOCX / scan renderings (``render``)."""

from .generate import GroundTruth, SyntheticContract, generate_contract, generate_contracts

__all__ = ["GroundTruth", "SyntheticContract", "generate_contract", "generate_contracts"]
