"""Hostile bundles: every refusal is a coded error, checked before the expensive work.

Cases (-> code): an unlisted entry whose header declares 1 GB (3007, before inflating), a
listed entry or a whole bundle over the size limits (3006, before inflating), a real
256 MB zero entry under an address-space limit (3007 / 3006 / 3001, never MemoryError),
entry names ``../x``, ``/abs``, ``C:x`` and duplicates (3008), a sub-folder entry (3007),
folder bundles with an unlisted file, a sub-folder (3007), a symlink leaving the folder, a symlink
loop, a dangling symlink or a FIFO (3008); manifest cases: ``preprocessing.size=100000``, ``class_names`` shortened (vs
``detector.num_classes``, and vs the labels the model predicts), ``files: {}``, a list
for ``files``, ``model_file: ../x`` and ``/etc/passwd``, bad hashes and sizes, input shape
vs preprocessing (3008); not JSON, deep nesting, not a manifest (3001); a newer format
(3005); a changed manifest, a missing ``manifest.sha256``, a file with a different size
(3002); a pickle named ``model.safetensors`` (3003); ``model.onnx`` changed with its hash
recomputed: loads without keys, refused with a signature required (3009), signed by another
key (3009), unsigned / signature removed (3010); encryption round trip (bytes, base64,
file, environment), wrong key (3011), no key (2005), changed ciphertext (3011). Property
tests: random manifest mutations and random byte damage give only coded errors.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from deepseek_apps.core.registry import get_model
from deepseek_apps.core.runtime.bundle import Bundle, load_safetensors_bytes, read_bundle, write_bundle
from deepseek_apps.core.runtime.edge import EdgeRuntime
from deepseek_apps.core.runtime.encryption import ENV_KEY, ENV_KEY_FILE, new_encryption_key
from deepseek_apps.core.runtime.signing import new_signing_keys
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode

BASE = {"application": "x", "version": "1", "class_names": ["a", "b"], "preprocessing": {}, "input_spec": {}}
FILES = {"model.onnx": b"onnx bytes", "MODEL_CARD.md": b"# card"}
DEFAULT = get_model("inspector").path  # the shipped INT8 inspector bundle (format 1, unsigned)


def code_of(call, *args, **kwargs) -> int:
    with pytest.raises(DeepSeekAppsError) as info:
        call(*args, **kwargs)
    return info.value.code


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path: Path, items: dict[str, bytes]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in items.items() if isinstance(items, dict) else items:
                zf.writestr(zipfile.ZipInfo(name), data)
    return path


def with_manifest(path: Path, src: Path, mutate=None, files: dict | None = None, rehash: bool = True) -> Path:
    """Copy bundle ``src`` to ``path`` with a changed manifest / files; hashes recomputed where asked."""
    items = entries(src)
    items.update(files or {})
    manifest = json.loads(items["manifest.json"])
    if files and rehash:
        for name, data in files.items():
            manifest["files"][name] = {
                **manifest["files"].get(name, {}),
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
    if mutate is not None:
        mutate(manifest)
    text = json.dumps(manifest).encode() if not isinstance(manifest, bytes) else manifest
    items["manifest.json"] = text
    if rehash:
        items["manifest.sha256"] = f"{hashlib.sha256(text).hexdigest()}  manifest.json\n".encode()
    return write_zip(path, items)


def set_declared_size(path: Path, name: str, size: int) -> None:
    """Patch the uncompressed size the central directory declares for ``name`` (a lying header)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == name.encode():
            struct.pack_into("<I", data, at + 24, size)
            path.write_bytes(bytes(data))
            return
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{name} not in the central directory")


@pytest.fixture
def small(tmp_path) -> Path:
    return write_bundle(tmp_path / "small.zip", BASE | {"metrics": {}}, FILES)


# ---------------------------------------------------------------- listing and sizes


def test_unlisted_entry_declared_1gb_is_refused_before_inflating(tmp_path, small):
    import tracemalloc

    bad = write_zip(tmp_path / "bad.zip", {**entries(small), "payload.bin": b"\0" * 4096})
    set_declared_size(bad, "payload.bin", 1_000_000_000)
    tracemalloc.start()
    assert code_of(read_bundle, bad) == ErrorCode.BUNDLE_UNLISTED_ENTRY
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20  # nothing near 1 GB was allocated
    small_unlisted = write_zip(tmp_path / "u.zip", {**entries(small), "notes.txt": b"hi"})
    assert code_of(read_bundle, small_unlisted) == ErrorCode.BUNDLE_UNLISTED_ENTRY
    folder_entry = write_zip(tmp_path / "d.zip", {**entries(small), "sub/": b"", "sub/model.onnx": b"x"})
    assert code_of(read_bundle, folder_entry) == ErrorCode.BUNDLE_UNLISTED_ENTRY


def test_sizes_over_the_limits_are_refused_from_the_listing(tmp_path, small):
    big = with_manifest(tmp_path / "big.zip", small, files={"model.onnx": b"m" * 5000})
    assert code_of(read_bundle, big, max_entry_bytes=4000) == ErrorCode.BUNDLE_TOO_LARGE
    assert code_of(read_bundle, big, max_total_bytes=5000) == ErrorCode.BUNDLE_TOO_LARGE
    assert code_of(read_bundle, big, max_manifest_bytes=100) == ErrorCode.BUNDLE_TOO_LARGE
    assert read_bundle(big).files["model.onnx"] == b"m" * 5000  # the defaults let it through
    set_declared_size(big, "model.onnx", 900_000_000)  # listed entry, lying header
    assert code_of(read_bundle, big, max_entry_bytes=10**8) == ErrorCode.BUNDLE_TOO_LARGE
    assert code_of(read_bundle, big) == ErrorCode.BUNDLE_HASH_MISMATCH  # size differs from the manifest's


@pytest.mark.parametrize("name", ["../evil.onnx", "/etc/evil", "C:evil", "a/../../evil", "a\\..\\evil"])
def test_unsafe_entry_names_are_refused(tmp_path, small, name):
    bad = write_zip(tmp_path / "bad.zip", {**entries(small), name: b"x"})
    assert code_of(read_bundle, bad) == ErrorCode.BUNDLE_MANIFEST_INVALID


def test_duplicate_entries_are_refused(tmp_path, small):
    items = list(entries(small).items()) + [("model.onnx", b"evil twin")]
    assert code_of(read_bundle, write_zip(tmp_path / "dup.zip", items)) == ErrorCode.BUNDLE_MANIFEST_INVALID


MEMORY_SCRIPT = r"""
import json, resource, sys, zipfile
from deepseek_apps.core.runtime.bundle import read_bundle
from deepseek_apps.errors import DeepSeekAppsError
vm = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 150 * 2**20, vm + 150 * 2**20))
out = {}
try:
    with zipfile.ZipFile(sys.argv[1]) as zf:
        zf.read("big.bin")
    out["control"] = "inflated"
except MemoryError:
    out["control"] = "MemoryError"
for key, path, kwargs in [("unlisted", sys.argv[1], {}), ("listed", sys.argv[2], {"max_entry_bytes": 10**8}),
                          ("lying", sys.argv[3], {})]:
    try:
        read_bundle(path, **kwargs)
        out[key] = "loaded"
    except DeepSeekAppsError as exc:
        out[key] = exc.code
    except MemoryError:
        out[key] = "MemoryError"
print(json.dumps(out))
"""


def _zip_with_zeros(path: Path, manifest: dict, size: int) -> Path:
    text = json.dumps(manifest).encode()
    items = {"manifest.json": text, "manifest.sha256": f"{hashlib.sha256(text).hexdigest()}  manifest.json\n".encode()}
    items.update(FILES)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in items.items():
            zf.writestr(name, data)
        with zf.open("big.bin", "w") as f:
            chunk = b"\0" * 2**20
            for _ in range(size // len(chunk)):
                f.write(chunk)
    return path


def test_real_zero_bomb_stays_within_an_address_space_limit(tmp_path, small):
    size = 256 * 2**20
    manifest = json.loads(entries(small)["manifest.json"])
    unlisted = _zip_with_zeros(tmp_path / "unlisted.zip", manifest, size)  # big.bin is not in the manifest
    zeros = hashlib.sha256()
    for _ in range(size // 2**20):
        zeros.update(b"\0" * 2**20)
    manifest["files"]["big.bin"] = {"sha256": zeros.hexdigest(), "bytes": size}
    listed = _zip_with_zeros(tmp_path / "listed.zip", manifest, size)
    manifest["files"]["big.bin"] = {"sha256": hashlib.sha256(b"\0" * 1000).hexdigest(), "bytes": 1000}
    lying = _zip_with_zeros(tmp_path / "lying.zip", manifest, size)
    set_declared_size(lying, "big.bin", 1000)
    assert unlisted.stat().st_size < 3 * 2**20
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(unlisted), str(listed), str(lying)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["control"] == "MemoryError"  # the limit is real: inflating the entry does not fit
    assert result["unlisted"] == ErrorCode.BUNDLE_UNLISTED_ENTRY
    assert result["listed"] == ErrorCode.BUNDLE_TOO_LARGE
    assert result["lying"] == ErrorCode.BUNDLE_INVALID  # inflation stops at the declared 1000 bytes (bad CRC)


# ---------------------------------------------------------------- folders


def test_folder_bundles_are_checked_like_zips(tmp_path):
    folder = write_bundle(tmp_path / "f", BASE | {"metrics": {}}, FILES)
    assert read_bundle(folder).files == FILES
    (folder / "notes.txt").write_text("hi")
    assert code_of(read_bundle, folder) == ErrorCode.BUNDLE_UNLISTED_ENTRY
    (folder / "notes.txt").unlink()
    (folder / "sub").mkdir()
    assert code_of(read_bundle, folder) == ErrorCode.BUNDLE_UNLISTED_ENTRY
    (folder / "sub").rmdir()
    assert code_of(read_bundle, folder, max_entry_bytes=5) == ErrorCode.BUNDLE_TOO_LARGE
    outside = tmp_path / "secret.onnx"
    outside.write_bytes(FILES["model.onnx"])
    (folder / "model.onnx").unlink()
    (folder / "model.onnx").symlink_to(outside)
    assert code_of(read_bundle, folder) == ErrorCode.BUNDLE_MANIFEST_INVALID
    (folder / "model.onnx").unlink()
    os.mkfifo(folder / "model.onnx")  # reading a FIFO would block forever
    assert code_of(read_bundle, folder) == ErrorCode.BUNDLE_MANIFEST_INVALID
    (folder / "model.onnx").unlink()
    for target in ("model.onnx", "nowhere"):  # a symlink loop, a dangling symlink
        (folder / "model.onnx").symlink_to(target)
        assert code_of(read_bundle, folder) == ErrorCode.BUNDLE_MANIFEST_INVALID
        (folder / "model.onnx").unlink()


def test_rewriting_a_folder_removes_the_old_bundles_files(tmp_path):
    folder = write_bundle(tmp_path / "f", BASE | {"metrics": {}}, {**FILES, "old.bin": b"x"})
    write_bundle(folder, BASE | {"metrics": {}}, FILES)
    assert not (folder / "old.bin").exists() and read_bundle(folder).files == FILES


# ---------------------------------------------------------------- the manifest's schema


def _set(path: str, value):
    """Set ``value`` at a dotted path; ``files|NAME`` keeps a file name with a dot in one piece."""

    def mutate(m):
        *parents, last = path.split("|") if "|" in path else path.split(".")
        node = m
        for p in parents:
            node = node[p]
        node[last] = value

    return mutate


def _drop(key: str):
    return lambda m: m.pop(key)


MANIFEST_CASES = {
    "size 100000": (_set("preprocessing.size", 100000), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "size as text": (_set("preprocessing.size", "192"), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "channels 0": (_set("preprocessing.channels", 0), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "std zero": (_set("preprocessing.std", [0]), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "tiling tile 5": (_set("preprocessing.tiling", {"tile": 5}), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "tiling overlap 2": (_set("preprocessing.tiling", {"tile": 640, "overlap": 2}), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "tiling text": (_set("preprocessing.tiling", "640"), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "class_names shortened": (_set("class_names", ["crazing"]), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "class_names text": (_set("class_names", "crazing"), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "class_names duplicate": (_set("class_names", ["a"] * 6), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "files empty": (_set("files", {}), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "files list": (_set("files", ["model.onnx", "MODEL_CARD.md"]), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "files bad hash": (_set("files|model.onnx", {"sha256": "zz", "bytes": 1}), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "files bad bytes": (_set("files|MODEL_CARD.md", {"sha256": "0" * 64, "bytes": -1}), 3008),
    "files ../name": (_set("files|../x", {"sha256": "0" * 64, "bytes": 1}), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "model_file ../x": (_set("model_file", "../x"), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "model_file absolute": (_set("model_file", "/etc/passwd"), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "model_file unlisted": (_set("model_file", "other.onnx"), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "score_threshold 7": (_set("postprocessing.score_threshold", 7), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "max_detections huge": (_set("postprocessing.max_detections", 10**9), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "input shape vs size": (_set("input_spec.shape", ["batch", 1, 64, 64]), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "metrics list": (_set("metrics", []), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "no class_names": (_drop("class_names"), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "no preprocessing.size": (lambda m: m["preprocessing"].pop("size"), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "version bool": (_set("version", True), ErrorCode.BUNDLE_MANIFEST_INVALID),
    "format_version 99": (_set("format_version", 99), ErrorCode.UNSUPPORTED_FORMAT),
    "not a manifest": (_set("format", "other"), ErrorCode.BUNDLE_INVALID),
}


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_manifest_schema_violations_are_coded(tmp_path, case):
    mutate, code = MANIFEST_CASES[case]
    bad = with_manifest(tmp_path / "bad.zip", DEFAULT, mutate)
    with pytest.raises(DeepSeekAppsError) as info:
        read_bundle(bad)
    assert info.value.code == code, str(info.value)
    if code == ErrorCode.BUNDLE_MANIFEST_INVALID:
        assert "manifest key" in info.value.message
        assert code_of(EdgeRuntime, bad) == code


@pytest.mark.parametrize(
    "text", [b"{not json", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b"[1, 2]", b"1" * 5000, b"null"]
)
def test_unparsable_manifests_are_coded(tmp_path, small, text):
    bad = with_manifest(tmp_path / "bad.zip", small, lambda m: None)
    items = entries(bad)
    items["manifest.json"] = text
    items["manifest.sha256"] = f"{hashlib.sha256(text).hexdigest()}  manifest.json\n".encode()
    assert code_of(read_bundle, write_zip(bad, items)) == ErrorCode.BUNDLE_INVALID


def test_labels_the_manifest_cannot_name_are_coded(tmp_path, sample_images):
    def shorten(m):
        m["class_names"] = ["crazing"]
        del m["detector"]  # an attacker editing consistently: the graph still predicts 6 classes

    runtime = EdgeRuntime(with_manifest(tmp_path / "short.zip", DEFAULT, shorten), score_threshold=0.0)
    assert code_of(runtime.predict, sample_images[:2]) == ErrorCode.BUNDLE_MANIFEST_INVALID


# ---------------------------------------------------------------- hashes, pickles


def test_a_changed_manifest_is_refused(tmp_path, small):
    edited = with_manifest(tmp_path / "edited.zip", small, _set("class_names", ["a", "c"]), rehash=False)
    assert code_of(read_bundle, edited) == ErrorCode.BUNDLE_HASH_MISMATCH
    items = entries(small)
    del items["manifest.sha256"]
    assert code_of(read_bundle, write_zip(tmp_path / "nohash.zip", items)) == ErrorCode.BUNDLE_HASH_MISMATCH
    legacy = with_manifest(tmp_path / "v1.zip", small, _set("format_version", 1), rehash=True)
    items = entries(legacy)
    del items["manifest.sha256"]
    assert read_bundle(write_zip(legacy, items)).files == FILES  # format 1 bundles still load


def test_a_pickle_named_safetensors_gives_our_code(tmp_path):
    payload = pickle.dumps({"weight": [1.0, 2.0]})
    path = write_bundle(
        tmp_path / "p.zip", BASE | {"metrics": {}, "model_file": "model.safetensors"}, {"model.safetensors": payload}
    )
    bundle = read_bundle(path)  # the hash matches: the bytes are what was shipped
    assert code_of(load_safetensors_bytes, bundle.model_bytes, name="model.safetensors") == ErrorCode.CHECKPOINT_INVALID
    for data in (b"", b"\0" * 7, struct.pack("<Q", 10) + b"[1, 2, 3]!", struct.pack("<Q", 2**40) + b"{}"):
        assert code_of(load_safetensors_bytes, data) == ErrorCode.CHECKPOINT_INVALID
    pytest.importorskip("torch")
    assert code_of(load_safetensors_bytes, payload, framework="torch") == ErrorCode.CHECKPOINT_INVALID


# ---------------------------------------------------------------- signatures


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    return new_signing_keys(root / "ours"), new_signing_keys(root / "theirs")


def test_signed_bundles_load_and_tampering_is_refused(tmp_path, keys):
    (private, public), (other_private, other_public) = keys
    signed = write_bundle(tmp_path / "s.zip", BASE | {"metrics": {}}, FILES, signing_key=private)
    for trusted in ([public], public, str(public), [public.read_bytes()], [other_public, public]):
        assert read_bundle(signed, trusted_keys=trusted).signed_by is not None
    forged = with_manifest(tmp_path / "forged.zip", signed, files={"model.onnx": b"evil graph"})
    assert read_bundle(forged).files["model.onnx"] == b"evil graph"  # hashes alone catch corruption only
    assert code_of(read_bundle, forged, trusted_keys=[public]) == ErrorCode.BUNDLE_SIGNATURE_INVALID
    assert code_of(read_bundle, signed, trusted_keys=[other_public]) == ErrorCode.BUNDLE_SIGNATURE_INVALID
    theirs = write_bundle(tmp_path / "t.zip", BASE | {"metrics": {}}, FILES, signing_key=other_private)
    assert code_of(read_bundle, theirs, trusted_keys=[public]) == ErrorCode.BUNDLE_SIGNATURE_INVALID
    unsigned = write_bundle(tmp_path / "u.zip", BASE | {"metrics": {}}, FILES)
    assert code_of(read_bundle, unsigned, trusted_keys=[public]) == ErrorCode.BUNDLE_UNSIGNED
    items = entries(signed)
    del items["manifest.sig"]
    stripped = write_zip(tmp_path / "stripped.zip", items)
    assert code_of(read_bundle, stripped, trusted_keys=[public]) == ErrorCode.BUNDLE_UNSIGNED
    for sig in (b"garbage", b'{"algorithm": "ed25519", "signature": "AAAA"}', b"[" * 50_000):
        items["manifest.sig"] = sig
        bad = write_zip(tmp_path / "badsig.zip", items)
        assert code_of(read_bundle, bad, trusted_keys=[public]) == ErrorCode.BUNDLE_SIGNATURE_INVALID
    assert code_of(read_bundle, signed, trusted_keys=[]) == ErrorCode.INVALID_ARGUMENT
    assert code_of(read_bundle, signed, trusted_keys=[tmp_path / "nope.pub"]) == ErrorCode.KEY_NOT_FOUND
    assert code_of(read_bundle, signed, trusted_keys=[b"not a key"]) == ErrorCode.INVALID_ARGUMENT
    assert code_of(EdgeRuntime, DEFAULT, trusted_keys=[public]) == ErrorCode.BUNDLE_UNSIGNED


def test_keys_never_travel_inside_a_bundle_folder(tmp_path, keys):
    folder = tmp_path / "f"
    folder.mkdir()
    inside = new_encryption_key(folder)
    assert code_of(write_bundle, folder, BASE | {"metrics": {}}, FILES, encryption_key=inside) == 1000
    ours = new_signing_keys(tmp_path / "g")[0]
    assert code_of(write_bundle, tmp_path / "g", BASE | {"metrics": {}}, FILES, signing_key=ours) == 1000


def test_keys_new_writes_a_private_key_only_its_owner_reads(tmp_path):
    from argparse import ArgumentParser

    from deepseek_apps.core.runtime.keys_cli import add_keys_parser

    parser = ArgumentParser()
    add_keys_parser(parser.add_subparsers(dest="app"))
    args = parser.parse_args(["keys", "new", "--out", str(tmp_path / "k"), "--encryption"])
    assert args.func(args) == 0
    for name in ("bundle_signing.key", "bundle_encryption.key"):
        assert (tmp_path / "k" / name).stat().st_mode & 0o777 == 0o600
    assert b"PUBLIC KEY" in (tmp_path / "k" / "bundle_signing.pub").read_bytes()
    assert code_of(args.func, args) == ErrorCode.INVALID_ARGUMENT  # never overwritten


# ---------------------------------------------------------------- encryption


def test_encrypted_bundles_round_trip_and_refuse_wrong_or_missing_keys(tmp_path, monkeypatch, keys):
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    key_file = new_encryption_key(tmp_path / "k")
    raw = base64.b64decode(key_file.read_bytes())
    path = write_bundle(tmp_path / "e.zip", BASE | {"metrics": {}}, FILES, encryption_key=key_file)
    stored = entries(path)
    manifest = json.loads(stored["manifest.json"])
    assert manifest["encrypted"] is True and manifest["encryption"]["algorithm"] == "AES-256-GCM"
    assert all(FILES[n] not in stored[n] for n in FILES) and "nonce" in manifest["files"]["model.onnx"]
    for key in (raw, base64.b64encode(raw).decode(), key_file, str(key_file)):
        assert read_bundle(path, key=key).files == FILES
    monkeypatch.setenv(ENV_KEY, base64.b64encode(raw).decode())
    assert read_bundle(path).files == FILES
    monkeypatch.delenv(ENV_KEY)
    monkeypatch.setenv(ENV_KEY_FILE, str(key_file))
    assert read_bundle(path).files == FILES
    monkeypatch.delenv(ENV_KEY_FILE)
    assert code_of(read_bundle, path) == ErrorCode.KEY_NOT_FOUND
    assert code_of(read_bundle, path, key=os.urandom(32)) == ErrorCode.BUNDLE_DECRYPT_FAILED
    assert code_of(read_bundle, path, key=b"short") == ErrorCode.INVALID_ARGUMENT
    assert code_of(read_bundle, path, key=tmp_path / "missing.key") == ErrorCode.KEY_NOT_FOUND
    flipped = bytearray(stored["model.onnx"])
    flipped[0] ^= 1
    changed = with_manifest(tmp_path / "c.zip", path, files={"model.onnx": bytes(flipped)})
    assert code_of(read_bundle, changed, key=raw) == ErrorCode.BUNDLE_DECRYPT_FAILED

    def swap(m):
        f = m["files"]
        f["model.onnx"], f["MODEL_CARD.md"] = f["MODEL_CARD.md"], f["model.onnx"]

    swapped = with_manifest(tmp_path / "sw.zip", path, swap)
    items = entries(swapped)
    items["model.onnx"], items["MODEL_CARD.md"] = stored["MODEL_CARD.md"], stored["model.onnx"]
    assert code_of(read_bundle, write_zip(swapped, items), key=raw) == ErrorCode.BUNDLE_DECRYPT_FAILED


def test_encrypted_signed_inspector_bundle_runs_on_the_edge(tmp_path, keys, sample_images):
    (private, public), _ = keys
    plain = read_bundle(DEFAULT)
    manifest = {k: v for k, v in plain.manifest.items()}
    key = os.urandom(32)
    path = write_bundle(tmp_path / "e.zip", manifest, plain.files, signing_key=private, encryption_key=key)
    images = sample_images[:2]
    expected = [r.to_dict()["defects"] for r in EdgeRuntime(DEFAULT).predict(images)]
    runtime = EdgeRuntime(path, trusted_keys=[public], key=key)
    assert [r.to_dict()["defects"] for r in runtime.predict(images)] == expected
    assert code_of(EdgeRuntime, path, trusted_keys=[public]) == ErrorCode.KEY_NOT_FOUND


# ---------------------------------------------------------------- properties

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
PATHS = [
    ("format_version",), ("application",), ("version",), ("task",), ("class_names",), ("class_names", 0),
    ("preprocessing",), ("preprocessing", "size"), ("preprocessing", "channels"), ("preprocessing", "mean"),
    ("preprocessing", "std"), ("preprocessing", "pixel_range"), ("input_spec",), ("input_spec", "shape"),
    ("metrics",), ("postprocessing",), ("postprocessing", "score_threshold"), ("postprocessing", "max_detections"),
    ("detector",), ("detector", "num_classes"), ("files",), ("files", "model.onnx"), ("files", "model.onnx", "sha256"),
    ("files", "model.onnx", "bytes"), ("model_file",), ("encrypted",), ("encryption",), ("outputs",),
]  # fmt: skip
MUTATION = st.tuples(st.sampled_from(PATHS), st.sampled_from(["set", "delete"]), JSON)


def _mutate(manifest: dict, mutations) -> dict:
    for path, op, value in mutations:
        node = manifest
        for key in path[:-1]:
            ok = (
                isinstance(node, dict)
                and key in node
                or isinstance(node, list)
                and isinstance(key, int)
                and key < len(node)
            )
            if not ok:
                break
            node = node[key]
        else:
            last = path[-1]
            if isinstance(node, dict) and op == "set":
                node[last] = value
            elif isinstance(node, dict):
                node.pop(last, None)
            elif isinstance(node, list) and isinstance(last, int) and last < len(node):
                node[last] = value
    return manifest


@pytest.fixture(scope="module")
def default_items():
    return entries(DEFAULT)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_random_manifest_mutations_give_only_coded_errors(tmp_path, default_items, mutations):
    manifest = _mutate(json.loads(default_items["manifest.json"]), mutations)
    text = json.dumps(manifest).encode()
    items = {**default_items, "manifest.json": text}
    items["manifest.sha256"] = f"{hashlib.sha256(text).hexdigest()}  manifest.json\n".encode()
    path = write_zip(tmp_path / "m.zip", items)
    try:
        bundle = read_bundle(path)
    except DeepSeekAppsError:
        return
    assert isinstance(bundle.model_bytes, bytes)


@settings(max_examples=15, deadline=None)
@given(mutations=st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_manifests_run_or_fail_coded_on_the_edge(default_items, mutations):
    plain = read_bundle(DEFAULT)
    manifest = _mutate(json.loads(default_items["manifest.json"]), mutations)
    try:
        runtime = EdgeRuntime(Bundle(manifest, plain.files, "mutated"))
        runtime.predict([Image.new("L", (64, 48), 128)])
    except DeepSeekAppsError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_byte_damage_gives_only_coded_errors(tmp_path, small, data):
    raw = bytearray(small.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(raw) // 2, len(raw)))
    path = tmp_path / "d.zip"
    path.write_bytes(bytes(raw[:cut]))
    try:
        read_bundle(path)
    except DeepSeekAppsError:
        pass
