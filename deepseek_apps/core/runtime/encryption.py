"""AES-256-GCM encryption at rest for the files of a bundle (models that are trade secrets).

Each file is encrypted with its own random 96-bit nonce and its name as associated data
(so two encrypted files cannot be swapped); ``manifest.json`` stays readable and records
``encrypted: true``, the algorithm, a key check value and each file's nonce. The key is
32 bytes, given as an argument (bytes, base64 text or a key file), or through the
environment: ``DEEPSEEK_APPS_BUNDLE_KEY`` (base64) or ``DEEPSEEK_APPS_BUNDLE_KEY_FILE``
(a path). It is never written beside the bundle. Needs the ``cryptography`` package.

Example:
    >>> from deepseek_apps.core.runtime.encryption import new_encryption_key
    >>> path = new_encryption_key("keys")  # doctest: +SKIP
    >>> write_bundle("b.zip", manifest, files, encryption_key=path)  # doctest: +SKIP
    >>> read_bundle("b.zip", key=path)  # or DEEPSEEK_APPS_BUNDLE_KEY_FILE=keys/bundle.aes  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError, require

ALGORITHM = "AES-256-GCM"
ENV_KEY = "DEEPSEEK_APPS_BUNDLE_KEY"
ENV_KEY_FILE = "DEEPSEEK_APPS_BUNDLE_KEY_FILE"
KEY_FILE = "bundle_encryption.key"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

BundleKey = bytes | str | Path


def _aesgcm(key: bytes):
    require("cryptography", "crypto")
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def new_encryption_key(out_dir: str | Path) -> Path:
    """Write a random AES-256 key (base64, mode 0600) to ``out_dir/bundle_encryption.key``."""
    from .signing import write_private

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / KEY_FILE
    write_private(path, base64.b64encode(os.urandom(KEY_BYTES)) + b"\n")
    return path


def _decode(text: bytes, where: str) -> bytes:
    if len(text) == KEY_BYTES:
        return text
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        key = b""
        cause = exc
    else:
        cause = None
    if len(key) != KEY_BYTES:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"the bundle key is not {KEY_BYTES} bytes (raw or base64)",
            value=where,
            hint="use a key written by `deepseek-apps keys new --encryption`",
        ) from cause
    return key


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MissingResourceError(
            ErrorCode.KEY_NOT_FOUND,
            "bundle key file cannot be read",
            value=str(path),
            hint=f"pass the key file written by `deepseek-apps keys new --encryption`, or set {ENV_KEY}",
        ) from exc


def resolve_key(key: BundleKey | None, *, use_environment: bool = True) -> bytes | None:
    """The 32-byte key from ``key`` (bytes, a key file path, or base64 text) or the environment.

    A ``str`` names a file when one exists at that path and is base64 text otherwise.
    Returns None when no key is given anywhere.
    """
    if key is None and use_environment:
        if os.environ.get(ENV_KEY):
            return _decode(os.environ[ENV_KEY].encode(), f"${ENV_KEY}")
        if os.environ.get(ENV_KEY_FILE):
            key = Path(os.environ[ENV_KEY_FILE])
    if key is None:
        return None
    if isinstance(key, bytes | bytearray):
        return _decode(bytes(key), f"<{len(key)} bytes>")
    if isinstance(key, Path) or (isinstance(key, str) and Path(key).is_file()):
        return _decode(_read_file(Path(key)), str(key))
    if isinstance(key, str):
        return _decode(key.encode(), "<base64 text>")
    raise InvalidInputError(
        ErrorCode.INVALID_ARGUMENT,
        f"a bundle key must be bytes, base64 text or a path, not {type(key).__name__}",
        value=repr(key),
    )


def key_check(key: bytes) -> str:
    """A value that tells a wrong key from a right one without revealing the key."""
    return hashlib.sha256(b"deepseek-apps bundle key check\0" + key).hexdigest()[:16]


def encrypt_file(key: bytes, name: str, data: bytes) -> tuple[str, bytes]:
    """``(nonce as base64, ciphertext + tag)`` of one bundle file."""
    nonce = os.urandom(NONCE_BYTES)
    return base64.b64encode(nonce).decode(), _aesgcm(key).encrypt(nonce, data, name.encode())


def missing_key_error(source: str) -> MissingResourceError:
    return MissingResourceError(
        ErrorCode.KEY_NOT_FOUND,
        "bundle is encrypted and no key was given",
        value=source,
        hint=f"pass key=... (bytes, base64 or a key file), or set {ENV_KEY} (base64) or {ENV_KEY_FILE}",
    )


def check_key(key: bytes, expected_check: str | None, source: str) -> None:
    """Refuse a key whose check value differs from the one the bundle was written with (3011)."""
    if expected_check is not None and key_check(key) != expected_check:
        raise ModelFormatError(
            ErrorCode.BUNDLE_DECRYPT_FAILED,
            f"wrong key for this bundle (key check {key_check(key)}, bundle wants {expected_check})",
            value=source,
            hint="use the key the bundle was exported with",
        )


def decrypt_file(key: bytes, name: str, nonce_b64: str, data: bytes, source: str) -> bytes:
    """The plaintext of one file; ``ModelFormatError`` 3011 when the key or the data is wrong."""
    invalid = require("cryptography.exceptions", "crypto").InvalidTag
    try:
        nonce = base64.b64decode(nonce_b64, validate=True)
        return _aesgcm(key).decrypt(nonce, data, name.encode())
    except (invalid, binascii.Error, ValueError, TypeError) as exc:
        raise ModelFormatError(
            ErrorCode.BUNDLE_DECRYPT_FAILED,
            f"cannot decrypt '{name}' (wrong key, or the file was changed)",
            value=f"{source}:{name}",
            hint="use the key the bundle was exported with; re-export it if it is damaged",
        ) from exc


__all__ = [
    "ALGORITHM",
    "ENV_KEY",
    "ENV_KEY_FILE",
    "KEY_FILE",
    "check_key",
    "decrypt_file",
    "encrypt_file",
    "key_check",
    "missing_key_error",
    "new_encryption_key",
    "resolve_key",
]
