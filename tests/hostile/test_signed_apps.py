"""Signing policy across the applications: ``--sign`` / ``--trusted-key`` (or their environment
variables) make every export signed and every load refuse an unsigned or foreign bundle."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deepseek_apps import DINRecommender
from deepseek_apps.core.runtime.bundle import SIGNING_KEY_ENV, TRUSTED_KEYS_ENV
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode

CLI = [sys.executable, "-m", "deepseek_apps.cli"]


def run(*args, check=True):
    proc = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    run("keys", "new", "--out", root / "ours")
    run("keys", "new", "--out", root / "theirs")
    return root


def test_cli_signs_on_export_and_checks_on_load(tmp_path, keys):
    signed, unsigned = tmp_path / "signed.zip", tmp_path / "plain.zip"
    run("--sign", keys / "ours/bundle_signing.key", "recommender", "export", "--out", signed, "--no-int8")
    run("recommender", "export", "--out", unsigned, "--no-int8")
    out = tmp_path / "top.jsonl"
    ours = keys / "ours/bundle_signing.pub"
    run("--trusted-key", ours, "recommender", "predict", "--model", signed, "--users", "0,1", "--out", out)
    assert len(out.read_text().splitlines()) == 2
    foreign = run("--trusted-key", keys / "theirs/bundle_signing.pub", "recommender", "predict", "--model", signed,
                  "--users", "0", "--out", tmp_path / "x.jsonl", check=False)  # fmt: skip
    assert foreign.returncode == 2 and "DSA-3009" in foreign.stderr
    plain = run("--trusted-key", ours, "recommender", "predict", "--model", unsigned, "--users", "0",
                "--out", tmp_path / "y.jsonl", check=False)  # fmt: skip
    assert plain.returncode == 2 and "DSA-3010" in plain.stderr


def test_the_environment_policy_reaches_the_python_api(tmp_path, keys, monkeypatch):
    bundle = tmp_path / "b.zip"
    monkeypatch.setenv(SIGNING_KEY_ENV, str(keys / "ours/bundle_signing.key"))
    DINRecommender().export(bundle, int8=False)
    monkeypatch.delenv(SIGNING_KEY_ENV)
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(keys / "ours/bundle_signing.pub"))
    assert DINRecommender.load(bundle).recommend(user_id=0, k=2)
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(keys / "theirs/bundle_signing.pub"))
    with pytest.raises(DeepSeekAppsError) as info:
        DINRecommender.load(bundle)
    assert info.value.code == ErrorCode.BUNDLE_SIGNATURE_INVALID


def test_load_takes_trusted_keys_and_an_encryption_key(tmp_path, keys, monkeypatch):
    from deepseek_apps.core.runtime.bundle import ENCRYPT_KEY_ENV

    run("keys", "new", "--out", tmp_path / "aes", "--encryption")
    aes = tmp_path / "aes/bundle_encryption.key"
    bundle = tmp_path / "secret.zip"
    monkeypatch.setenv(SIGNING_KEY_ENV, str(keys / "ours/bundle_signing.key"))
    monkeypatch.setenv(ENCRYPT_KEY_ENV, str(aes))
    DINRecommender().export(bundle, int8=False)
    monkeypatch.delenv(SIGNING_KEY_ENV)
    monkeypatch.delenv(ENCRYPT_KEY_ENV)
    ours = keys / "ours/bundle_signing.pub"
    with pytest.raises(DeepSeekAppsError) as info:
        DINRecommender.load(bundle, trusted_keys=[ours])  # encrypted: no key, no model
    assert info.value.code == ErrorCode.KEY_NOT_FOUND
    loaded = DINRecommender.load(bundle, trusted_keys=[ours], key=aes)
    assert [r.item_id for r in loaded.recommend(user_id=0, k=3)] == [
        r.item_id for r in DINRecommender().recommend(user_id=0, k=3)
    ]
    with pytest.raises(DeepSeekAppsError) as info:
        DINRecommender.load(bundle, trusted_keys=[keys / "theirs/bundle_signing.pub"], key=aes)
    assert info.value.code == ErrorCode.BUNDLE_SIGNATURE_INVALID
