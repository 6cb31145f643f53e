"""Edge bundles: ``manifest.json`` + ``model.onnx`` (+ a model card), as a folder or a ``.zip``.

The manifest records the application, version, class names, preprocessing, input spec,
the metrics the model shipped with and the sha256 of every other file; ``manifest.sha256``
holds the hash of the manifest itself, and ``manifest.sig`` (optional) an Ed25519
signature over it, so the chain ``signature -> manifest -> every file`` covers the whole
bundle. Files may be encrypted at rest with AES-256-GCM (the manifest stays readable).

``read_bundle`` checks, in this order and before the expensive work: the listing (names,
declared sizes against the limits), the manifest's hash and signature, the manifest's
schema, unlisted entries, then streams each listed file under its declared size and
checks its hash. Every refusal is a coded ``ModelFormatError`` / ``MissingResourceError``:

- 3001 not a bundle / damaged entry, 3002 a hash differs, 3005 a newer format,
- 3006 over a size limit, 3007 an entry the manifest does not list,
- 3008 the manifest breaks its schema or names an unsafe path,
- 3009 bad signature, 3010 unsigned while ``trusted_keys`` are given,
- 3011 wrong decryption key, 2005 no key for an encrypted bundle.

Example:
    >>> from deepseek_apps.core.runtime.bundle import read_bundle
    >>> bundle = read_bundle("bundle.zip", trusted_keys=["keys/bundle_signing.pub"])  # doctest: +SKIP
    >>> bundle.manifest["class_names"], len(bundle.model_bytes)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError, require
from .bundle_entries import (
    MAX_ENTRY_BYTES,
    MAX_MANIFEST_BYTES,
    MAX_SIDECAR_BYTES,
    MAX_TOTAL_BYTES,
    BundleLimits,
    open_entries,
    too_large,
)
from .bundle_manifest import (
    DEFAULT_MODEL_FILE,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    MANIFEST_HASH_FILE,
    REQUIRED_KEYS,
    RESERVED_NAMES,
    check_class_count,
    check_format,
    invalid,
    is_plain_name,
    validate_manifest,
)
from .signing import SIGNATURE_FILE, TrustedKey

# keys write_bundle sets itself; a manifest copied from a read bundle may carry them
ENCRYPT_KEY_ENV = "DEEPSEEK_APPS_ENCRYPT_KEY"  # an AES key file: every write_bundle encrypts
SIGNING_KEY_ENV = "DEEPSEEK_APPS_SIGNING_KEY"  # a private key file: every write_bundle signs
TRUSTED_KEYS_ENV = (
    "DEEPSEEK_APPS_TRUSTED_KEYS"  # public key files (os.pathsep-separated): every read_bundle requires one
)
_WRITER_KEYS = ("format", "format_version", "files", "encrypted", "encryption")


@dataclass
class Bundle:
    """A verified bundle: its manifest, its (decrypted) files, where it came from and who signed it."""

    manifest: dict[str, Any]
    files: dict[str, bytes]
    source: str
    signed_by: str | None = None  # key id of the trusted key that verified manifest.sig

    @property
    def model_bytes(self) -> bytes:
        name = self.manifest.get("model_file", DEFAULT_MODEL_FILE)
        if name not in self.files:
            raise invalid("model_file", name, "is not one of the bundle's files")
        return self.files[name]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest_hash_line(text: bytes) -> bytes:
    return f"{sha256(text)}  {MANIFEST_FILE}\n".encode()


def _check_writer_names(files: dict[str, bytes]) -> None:
    for name in files:
        if not is_plain_name(name) or name in RESERVED_NAMES:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "a bundle file needs a plain name (no folders, not a manifest file)",
                value=name,
            )


def _refuse_key_inside(out: Path, key: Any, what: str) -> None:
    """A key file must never travel inside a bundle folder."""
    if not isinstance(key, str | Path) or out.suffix == ".zip" or not Path(key).exists():
        return
    if Path(key).resolve().is_relative_to(out.resolve()):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"the {what} lies inside the bundle folder",
            value=str(key),
            hint="keep keys outside the bundle; only the public key is shared",
        )


def _encrypt(manifest: dict, files: dict[str, bytes], encryption_key: Any) -> tuple[dict, dict[str, bytes]]:
    from . import encryption

    key = encryption.resolve_key(encryption_key, use_environment=False)
    stored, nonces = {}, {}
    for name, data in files.items():
        nonces[name], stored[name] = encryption.encrypt_file(key, name, data)
    manifest["encrypted"] = True
    manifest["encryption"] = {"algorithm": encryption.ALGORITHM, "key_check": encryption.key_check(key)}
    return nonces, stored


def write_bundle(
    out: str | Path,
    manifest: dict[str, Any],
    files: dict[str, bytes],
    *,
    signing_key: str | Path | None = None,
    encryption_key: bytes | str | Path | None = None,
) -> Path:
    """Write ``files`` and a manifest with their hashes to ``out`` (a ``.zip`` or a folder).

    Args:
        out: ``something.zip`` or a folder.
        manifest: application, version, class names, preprocessing, input spec, metrics, ...
        files: plain file name -> bytes (the model file and whatever the app needs).
        signing_key: an Ed25519 private key file (``deepseek-apps keys new``): writes ``manifest.sig``.
            None: ``$DEEPSEEK_APPS_SIGNING_KEY`` when set (so every application's ``export``
            signs), else unsigned.
        encryption_key: 32 bytes, base64 text or a key file: encrypts every file with AES-256-GCM.
            None: ``$DEEPSEEK_APPS_ENCRYPT_KEY`` (a key file) when set, else not encrypted.
    """
    out = Path(out)
    if signing_key is None:
        signing_key = os.environ.get(SIGNING_KEY_ENV) or None
    if encryption_key is None and os.environ.get(ENCRYPT_KEY_ENV):
        encryption_key = Path(os.environ[ENCRYPT_KEY_ENV])
    _check_writer_names(files)
    _refuse_key_inside(out, signing_key, "signing key")
    _refuse_key_inside(out, encryption_key, "encryption key")
    manifest = {k: v for k, v in manifest.items() if k not in _WRITER_KEYS}
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
    nonces: dict[str, str] = {}
    if encryption_key is not None:
        nonces, files = _encrypt(manifest, files, encryption_key)
    manifest["files"] = {
        name: {"sha256": sha256(data), "bytes": len(data), **({"nonce": nonces[name]} if nonces else {})}
        for name, data in files.items()
    }
    text = json.dumps(manifest, indent=2, default=float).encode()
    extra = {MANIFEST_HASH_FILE: _manifest_hash_line(text)}
    if signing_key is not None:
        from .signing import sign_manifest

        extra[SIGNATURE_FILE] = sign_manifest(text, signing_key)
    if out.suffix == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST_FILE, text)
            for name, data in {**extra, **files}.items():
                zf.writestr(name, data)
        tmp.replace(out)
    else:
        _write_folder(out, text, {**extra, **files})
    return out


def _write_folder(out: Path, text: bytes, files: dict[str, bytes]) -> None:
    """Write a bundle folder; files a previous bundle here listed (and a stale signature) are removed."""
    out.mkdir(parents=True, exist_ok=True)
    stale = {SIGNATURE_FILE, MANIFEST_HASH_FILE}
    try:
        old = json.loads((out / MANIFEST_FILE).read_bytes()).get("files", {})
        stale |= {n for n in old if is_plain_name(n)} if isinstance(old, dict) else set()
    except (OSError, ValueError, AttributeError, RecursionError):
        pass  # no previous bundle here (or an unreadable one): nothing of it to clean up
    for name in stale - set(files):
        (out / name).unlink(missing_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / MANIFEST_FILE).write_bytes(text)


def _parse_manifest(text: bytes, source: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, huge ints, deep nesting
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            f"manifest.json is not valid JSON ({type(exc).__name__}: {str(exc)[:200]})",
            value=source,
            hint="re-create it with `deepseek-apps <app> export`",
        ) from exc


def _check_manifest_hash(entries, text: bytes, version: int) -> None:
    if MANIFEST_HASH_FILE not in entries.sizes:
        if version >= 2:
            raise ModelFormatError(
                ErrorCode.BUNDLE_HASH_MISMATCH,
                f"{MANIFEST_HASH_FILE} is missing",
                value=entries.source,
                hint="the bundle was modified or is incomplete; do not run it, re-export it",
            )
        return  # format 1 (bundles written before the manifest was hashed)
    recorded = entries.read(MANIFEST_HASH_FILE, MAX_SIDECAR_BYTES).split(b" ", 1)[0].strip()
    if recorded != sha256(text).encode():
        raise ModelFormatError(
            ErrorCode.BUNDLE_HASH_MISMATCH,
            "sha256 of 'manifest.json' does not match manifest.sha256",
            value=f"{entries.source}:{MANIFEST_FILE}",
            hint="the manifest was modified or corrupted; do not run it, re-export it",
        )


def _check_listing(entries, manifest: dict) -> None:
    listed = manifest["files"]
    unlisted = sorted(n for n in entries.sizes if n not in listed and n not in RESERVED_NAMES)
    if unlisted:
        raise ModelFormatError(
            ErrorCode.BUNDLE_UNLISTED_ENTRY,
            f"bundle holds entries its manifest does not list: {unlisted[:5]}",
            value=entries.source,
            hint="a bundle holds exactly the files its manifest hashes; do not run it, re-export it",
        )
    for name, entry in listed.items():
        if name not in entries.sizes:
            raise ModelFormatError(
                ErrorCode.BUNDLE_INVALID,
                f"file '{name}' listed in the manifest is missing",
                value=entries.source,
                hint="the bundle is incomplete; copy it again",
            )
        if entries.sizes[name] != entry["bytes"]:
            raise ModelFormatError(
                ErrorCode.BUNDLE_HASH_MISMATCH,
                f"'{name}' is {entries.sizes[name]} bytes, the manifest says {entry['bytes']}",
                value=f"{entries.source}:{name}",
                hint="the bundle was modified or corrupted; do not run it, re-export it",
            )


def _read_files(entries, manifest: dict, key: Any) -> dict[str, bytes]:
    from . import encryption

    secret = None
    if manifest.get("encrypted"):
        secret = encryption.resolve_key(key)
        if secret is None:
            raise encryption.missing_key_error(entries.source)
        encryption.check_key(secret, manifest["encryption"].get("key_check"), entries.source)
    files = {}
    for name, entry in manifest["files"].items():
        data = entries.read(name, entry["bytes"])
        if len(data) != entry["bytes"] or sha256(data) != entry["sha256"]:
            raise ModelFormatError(
                ErrorCode.BUNDLE_HASH_MISMATCH,
                f"sha256 of '{name}' does not match the manifest",
                value=f"{entries.source}:{name}",
                hint="the bundle was modified or corrupted; do not run it, re-export it",
            )
        files[name] = (
            data if secret is None else encryption.decrypt_file(secret, name, entry["nonce"], data, entries.source)
        )
    return files


_TRUST: ContextVar[Any] = ContextVar("deepseek_apps_trusted_keys", default=None)
_KEY: ContextVar[Any] = ContextVar("deepseek_apps_bundle_key", default=None)


@contextmanager
def bundle_policy(trusted_keys: Any = None, key: Any = None) -> Iterator[None]:
    """Within the block, ``read_bundle`` calls that pass no ``trusted_keys`` / ``key`` use these.

    This is how ``App.load(path, trusted_keys=..., key=...)`` reaches every bundle the
    application opens, however deep in its loader.
    """
    trust_token, key_token = _TRUST.set(trusted_keys), _KEY.set(key)
    try:
        yield
    finally:
        _TRUST.reset(trust_token)
        _KEY.reset(key_token)


def read_bundle(
    path: str | Path,
    *,
    max_entry_bytes: int = MAX_ENTRY_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_manifest_bytes: int = MAX_MANIFEST_BYTES,
    trusted_keys: Iterable[TrustedKey] | TrustedKey | None = None,
    key: bytes | str | Path | None = None,
) -> Bundle:
    """Read and verify a bundle; every refusal is a coded error (see the module docstring).

    Args:
        path: a bundle ``.zip`` or folder.
        max_entry_bytes: the largest inflated file (default 1 GiB).
        max_total_bytes: the largest inflated bundle (default 2 GiB).
        max_manifest_bytes: the largest ``manifest.json`` (default 16 MiB).
        trusted_keys: public keys (PEM paths or bytes); when given, the bundle must carry a
            ``manifest.sig`` made by one of them. None: ``$DEEPSEEK_APPS_TRUSTED_KEYS`` (public
            key files separated by ``os.pathsep``) when set, so every application's ``load``
            requires a trusted signature; else signatures are not checked.
        key: the AES key of an encrypted bundle (bytes, base64 text or a key file); None:
            ``$DEEPSEEK_APPS_BUNDLE_KEY`` / ``$DEEPSEEK_APPS_BUNDLE_KEY_FILE``.
    """
    path = Path(path)
    if not path.exists():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            "bundle not found",
            value=str(path),
            hint="pass a bundle folder or .zip written by `export`",
        )
    if trusted_keys is None:
        trusted_keys = _TRUST.get()
    if trusted_keys is None and os.environ.get(TRUSTED_KEYS_ENV):
        trusted_keys = [Path(p) for p in os.environ[TRUSTED_KEYS_ENV].split(os.pathsep) if p]
    if key is None:
        key = _KEY.get()
    limits = BundleLimits(max_entry_bytes, max_total_bytes, max_manifest_bytes)
    entries = open_entries(path, limits)
    try:
        return _verify(entries, limits, trusted_keys, key)
    finally:
        entries.close()


def _verify(entries, limits: BundleLimits, trusted_keys: Any, key: Any) -> Bundle:
    if MANIFEST_FILE not in entries.sizes:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            "bundle has no manifest.json",
            value=entries.source,
            hint="re-create it with `deepseek-apps <app> export`",
        )
    if entries.sizes[MANIFEST_FILE] > limits.max_manifest_bytes:
        raise too_large(
            "manifest.json",
            entries.sizes[MANIFEST_FILE],
            limits.max_manifest_bytes,
            entries.source,
            "max_manifest_bytes",
        )
    text = entries.read(MANIFEST_FILE, limits.max_manifest_bytes)
    signed_by = None
    if trusted_keys is not None:
        from .signing import verify_manifest

        keys = [trusted_keys] if isinstance(trusted_keys, str | Path | bytes | bytearray) else list(trusted_keys)
        sig = entries.read(SIGNATURE_FILE, MAX_SIDECAR_BYTES) if SIGNATURE_FILE in entries.sizes else None
        signed_by = verify_manifest(text, sig, keys, entries.source)
    manifest = _parse_manifest(text, entries.source)
    check_format(manifest, entries.source)
    _check_manifest_hash(entries, text, manifest["format_version"])
    validate_manifest(manifest, entries.source)
    _check_listing(entries, manifest)
    return Bundle(manifest, _read_files(entries, manifest, key), entries.source, signed_by)


def load_safetensors_bytes(
    data: bytes, *, name: str = "weights", framework: str = "numpy", extra: str = "train"
) -> dict[str, Any]:
    """Tensors of a safetensors file's bytes; anything else (a pickle, garbage) is ``ModelFormatError`` 3003.

    Args:
        data: the file's bytes (e.g. ``bundle.files["catalog.safetensors"]``).
        name: the file's name, for the message.
        framework: ``"numpy"`` (no PyTorch, for the edge path) or ``"torch"``.
        extra: the extra that installs ``safetensors``, named when it is missing.
    """
    if framework not in ("numpy", "torch"):
        raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "framework must be 'numpy' or 'torch'", value=framework)
    module = require(f"safetensors.{framework}", extra)
    try:
        return module.load(bytes(data))
    except Exception as exc:  # SafetensorError, header JSON / dtype errors: all mean "not safetensors"
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            f"'{name}' is not a valid safetensors file ({type(exc).__name__}: {str(exc)[:200]})",
            value=name,
            hint="weights must be safetensors written by this package; pickles are never loaded",
        ) from exc


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "REQUIRED_KEYS",
    "Bundle",
    "BundleLimits",
    "check_class_count",
    "load_safetensors_bytes",
    "read_bundle",
    "sha256",
    "validate_manifest",
    "write_bundle",
]
