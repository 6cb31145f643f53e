"""Ed25519 signatures over a bundle's ``manifest.json`` (which holds the sha256 of every file).

A hash catches corruption; a signature catches tampering: whoever changes ``model.onnx``
and recomputes its hash in the manifest cannot produce a valid ``manifest.sig`` without
the private key. Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public) written
by ``deepseek-apps keys new --out DIR``; the private key stays with whoever exports, only
the public key travels to the machines that load bundles. Needs the ``cryptography``
package, imported only when a key is used.

Example:
    >>> from deepseek_apps.core.runtime.signing import new_signing_keys
    >>> private, public = new_signing_keys("keys")  # doctest: +SKIP
    >>> write_bundle("b.zip", manifest, files, signing_key=private)  # doctest: +SKIP
    >>> read_bundle("b.zip", trusted_keys=[public])  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError, require

SIGNATURE_FILE = "manifest.sig"
ALGORITHM = "ed25519"
PRIVATE_KEY_FILE = "bundle_signing.key"
PUBLIC_KEY_FILE = "bundle_signing.pub"
CRYPTO_EXTRA = "crypto"

TrustedKey = str | Path | bytes | Any  # a PEM file path, PEM or raw 32-byte public key, or an Ed25519PublicKey


def _ed25519():
    require("cryptography", CRYPTO_EXTRA)
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519


def _serialization():
    require("cryptography", CRYPTO_EXTRA)
    from cryptography.hazmat.primitives import serialization

    return serialization


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only (0600), refusing to overwrite one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "a key file already exists here",
            value=str(path),
            hint="choose another --out folder; an existing key is never overwritten",
        ) from exc
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def new_signing_keys(out_dir: str | Path) -> tuple[Path, Path]:
    """Create an Ed25519 key pair in ``out_dir``: the private key (mode 0600) and the public key."""
    ed25519, serialization = _ed25519(), _serialization()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    write_private(out_dir / PRIVATE_KEY_FILE, private)
    (out_dir / PUBLIC_KEY_FILE).write_bytes(public)
    return out_dir / PRIVATE_KEY_FILE, out_dir / PUBLIC_KEY_FILE


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise MissingResourceError(
            ErrorCode.KEY_NOT_FOUND,
            f"{what} not found",
            value=str(path),
            hint="create keys with `deepseek-apps keys new --out DIR`",
        ) from exc
    except OSError as exc:
        raise MissingResourceError(
            ErrorCode.KEY_NOT_FOUND, f"{what} cannot be read ({exc.strerror})", value=str(path)
        ) from exc


def load_private_key(path: str | Path):
    """The Ed25519 private key in a PEM file written by ``keys new``."""
    ed25519, serialization = _ed25519(), _serialization()
    data = _read_key_file(Path(path), "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "the signing key is not an unencrypted PEM private key",
            value=str(path),
            hint="pass the bundle_signing.key written by `deepseek-apps keys new`",
        ) from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"the signing key is a {type(key).__name__}, not Ed25519",
            value=str(path),
            hint="create an Ed25519 key with `deepseek-apps keys new`",
        )
    return key


def load_public_key(spec: TrustedKey):
    """An Ed25519 public key from a PEM file path, PEM bytes, 32 raw bytes or a key object."""
    ed25519, serialization = _ed25519(), _serialization()
    if isinstance(spec, ed25519.Ed25519PublicKey):
        return spec
    if isinstance(spec, str | Path):
        data, where = _read_key_file(Path(spec), "trusted public key"), str(spec)
    elif isinstance(spec, bytes | bytearray):
        data, where = bytes(spec), f"<{len(spec)} bytes>"
    else:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"a trusted key must be a path or bytes, not {type(spec).__name__}",
            value=repr(spec),
            hint="pass the bundle_signing.pub written by `deepseek-apps keys new`",
        )
    try:
        if len(data) == 32:
            return ed25519.Ed25519PublicKey.from_public_bytes(data)
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "a trusted key is not an Ed25519 public key (PEM or 32 raw bytes)",
            value=where,
            hint="pass the bundle_signing.pub written by `deepseek-apps keys new`",
        ) from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT, f"a trusted key is a {type(key).__name__}, not Ed25519", value=where
        )
    return key


def key_id(public_key) -> str:
    """A short, stable name of a public key (16 hex digits of the sha256 of its raw bytes)."""
    serialization = _serialization()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_manifest(manifest_bytes: bytes, private_key_path: str | Path) -> bytes:
    """The content of ``manifest.sig`` for ``manifest_bytes``: JSON with the algorithm, key id and signature."""
    key = load_private_key(private_key_path)
    signature = key.sign(manifest_bytes)
    record = {
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(signature).decode(),
    }
    return json.dumps(record, indent=2).encode()


def _signature_error(message: str, value: Any, hint: str = "") -> ModelFormatError:
    return ModelFormatError(
        ErrorCode.BUNDLE_SIGNATURE_INVALID,
        message,
        value=value,
        hint=hint
        or "the bundle was changed after it was signed, or signed by a key you do not trust; "
        "do not run it, get it again from its publisher",
    )


def _parse_signature(sig_bytes: bytes, source: str) -> tuple[str, bytes]:
    try:
        record = json.loads(sig_bytes)
        if not isinstance(record, dict) or record.get("algorithm") != ALGORITHM:
            raise ValueError(f"algorithm is not {ALGORITHM}")
        signature = base64.b64decode(record["signature"], validate=True)
        if len(signature) != 64:
            raise ValueError("an Ed25519 signature has 64 bytes")
        return str(record.get("key_id", "?")), signature
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise _signature_error(f"{SIGNATURE_FILE} is malformed ({exc})", source) from exc


def verify_manifest(
    manifest_bytes: bytes, sig_bytes: bytes | None, trusted_keys: Iterable[TrustedKey], source: str
) -> str:
    """Check ``manifest.sig`` against the trusted keys; returns the id of the key that signed.

    Raises ``ModelFormatError`` 3010 (unsigned) or 3009 (bad signature, unknown key).
    """
    keys = [load_public_key(k) for k in trusted_keys]
    if not keys:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "trusted_keys is empty: no bundle could ever be accepted",
            value="[]",
            hint="pass the publisher's public key(s), or trusted_keys=None to skip signature checks",
        )
    if sig_bytes is None:
        raise ModelFormatError(
            ErrorCode.BUNDLE_UNSIGNED,
            f"bundle is not signed ({SIGNATURE_FILE} missing) but trusted keys were given",
            value=source,
            hint="ask for a bundle exported with `--sign KEY`, or load without trusted_keys",
        )
    claimed, signature = _parse_signature(sig_bytes, source)
    invalid = require("cryptography.exceptions", CRYPTO_EXTRA).InvalidSignature
    for key in keys:
        try:
            key.verify(signature, manifest_bytes)
        except invalid:
            continue
        return key_id(key)
    trusted = ", ".join(key_id(k) for k in keys)
    raise _signature_error(
        f"signature does not verify with any trusted key (signed by key {claimed}; trusted: {trusted})", source
    )


__all__ = [
    "PRIVATE_KEY_FILE",
    "PUBLIC_KEY_FILE",
    "SIGNATURE_FILE",
    "key_id",
    "load_private_key",
    "load_public_key",
    "new_signing_keys",
    "sign_manifest",
    "verify_manifest",
    "write_private",
]
