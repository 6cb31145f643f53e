"""The schema of a bundle's ``manifest.json``: types, bounds and cheap consistency checks.

``validate_manifest`` runs before any file of the bundle is read and before any app looks
at the manifest, so a hostile or damaged manifest gives ``ModelFormatError`` 3008
(``BUNDLE_MANIFEST_INVALID``) naming the key and the value, never a raw ``KeyError``,
``IndexError`` or ``TypeError`` later, and never a 100000-pixel resize. Plain Python
checks, no schema library.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

from ...errors import DeepSeekAppsError, ErrorCode, ModelFormatError
from .tiling import Tiling

FORMAT = "deepseek-apps-bundle"
FORMAT_VERSION = 2  # 2: manifest.sha256 (and optional manifest.sig, encryption); 1 still reads
SUPPORTED_VERSIONS = (1, 2)
REQUIRED_KEYS = ("application", "version", "class_names", "preprocessing", "input_spec", "metrics", "files")
MANIFEST_FILE = "manifest.json"
MANIFEST_HASH_FILE = "manifest.sha256"
RESERVED_NAMES = (MANIFEST_FILE, MANIFEST_HASH_FILE, "manifest.sig")
DEFAULT_MODEL_FILE = "model.onnx"
IMAGE_TASKS = ("detection", "classification")
ENCRYPTION_ALGORITHM = "AES-256-GCM"

# (low, high) bounds of the integer preprocessing settings the apps act on
PREPROCESSING_BOUNDS = {
    "size": (8, 4096),
    "channels": (1, 4),
    "max_len": (1, 100_000),
    "max_tokens": (1, 1_000_000),
    "window_size": (1, 100_000),
    "window_stride": (1, 100_000),
}
POSTPROCESSING_BOUNDS = {"score_threshold": (0.0, 1.0), "iou_threshold": (0.0, 1.0)}
MAX_DETECTIONS = (1, 100_000)
MAX_CLASSES = 100_000
MAX_NAME_CHARS = 1_000
MAX_FILES = 10_000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f/\\:]")


def invalid(key: str, value: Any, why: str, hint: str = "") -> ModelFormatError:
    """The 3008 error for manifest key ``key`` holding ``value``."""
    return ModelFormatError(
        ErrorCode.BUNDLE_MANIFEST_INVALID,
        f"manifest key '{key}' {why}",
        value=repr(value),
        hint=hint or "the manifest was damaged or edited; re-create the bundle with `deepseek-apps <app> export`",
    )


def is_plain_name(name: Any) -> bool:
    """A file name without folders, drive letters, control characters or dot-only names."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 255
        and name not in (".", "..")
        and not name.startswith(".")
        and not _UNSAFE_NAME.search(name)
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, int | float) and not isinstance(v, bool)) and math.isfinite(v)


def _bounded_int(key: str, value: Any, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise invalid(key, value, f"must be an integer in {low}..{high}")
    return value


def _numbers(key: str, value: Any, length: int | None = None, positive: bool = False) -> None:
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise invalid(key, value, "must be a list of finite numbers")
    if length is not None and len(value) != length:
        raise invalid(key, value, f"must have {length} values (one per channel)")
    if positive and not all(v > 0 for v in value):
        raise invalid(key, value, "must be positive")


def _check_files(files: Any, encrypted: bool) -> None:
    if not isinstance(files, dict):
        raise invalid("files", files, "must be a dict of {name: {sha256, bytes}}")
    if not files:
        raise invalid("files", files, "is empty: a bundle holds at least its model file")
    if len(files) > MAX_FILES:
        raise invalid("files", f"{len(files)} entries", f"lists more than {MAX_FILES} files")
    for name, entry in files.items():
        if not is_plain_name(name) or name in RESERVED_NAMES:
            raise invalid(f"files.{name}", name, "is not a plain file name inside the bundle")
        if not isinstance(entry, dict):
            raise invalid(f"files.{name}", entry, "must be a dict with sha256 and bytes")
        digest, size = entry.get("sha256"), entry.get("bytes")
        if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest):
            raise invalid(f"files.{name}.sha256", digest, "must be 64 lowercase hex digits")
        if not _is_int(size) or size < 0:
            raise invalid(f"files.{name}.bytes", size, "must be a non-negative integer")
        if encrypted:
            nonce = entry.get("nonce")
            try:
                ok = isinstance(nonce, str) and len(base64.b64decode(nonce, validate=True)) == 12
            except (binascii.Error, ValueError):
                ok = False
            if not ok:
                raise invalid(f"files.{name}.nonce", nonce, "must be a base64 12-byte nonce (encrypted bundle)")


def _check_class_names(names: Any, task: Any) -> None:
    if not isinstance(names, list) or not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME_CHARS for n in names):
        raise invalid("class_names", names, f"must be a list of non-empty strings (up to {MAX_NAME_CHARS} chars)")
    if len(names) > MAX_CLASSES:
        raise invalid("class_names", f"{len(names)} names", f"has more than {MAX_CLASSES} names")
    if len(set(names)) != len(names):
        raise invalid("class_names", names, "has duplicate names")
    if task in IMAGE_TASKS and not names:
        raise invalid("class_names", names, f"is empty for a {task} model")


def _check_tiling(tiling: Any) -> None:
    try:
        if not isinstance(tiling, dict) or "tile" not in tiling:
            raise TypeError
        Tiling.from_dict(tiling)
    except (DeepSeekAppsError, TypeError, ValueError) as exc:
        raise invalid(
            "preprocessing.tiling", tiling, "must be {tile: int >= 64, overlap: 0..0.9, whole_image: bool}"
        ) from exc


def _check_preprocessing(pre: Any, task: Any) -> None:
    if not isinstance(pre, dict):
        raise invalid("preprocessing", pre, "must be a dict")
    for key, (low, high) in PREPROCESSING_BOUNDS.items():
        if key in pre:
            _bounded_int(f"preprocessing.{key}", pre[key], low, high)
        elif task in IMAGE_TASKS and key in ("size", "channels"):
            raise invalid(f"preprocessing.{key}", None, f"is required for a {task} model")
    channels = pre.get("channels")
    if "mean" in pre:
        _numbers("preprocessing.mean", pre["mean"], channels)
    if "std" in pre:
        _numbers("preprocessing.std", pre["std"], channels, positive=True)
    if pre.get("tiling") is not None:
        _check_tiling(pre["tiling"])
    if "pixel_range" in pre:
        rng = pre["pixel_range"]
        _numbers("preprocessing.pixel_range", rng, 2)
        if rng[0] >= rng[1]:
            raise invalid("preprocessing.pixel_range", rng, "must be [low, high] with low < high")


def _check_input_spec(manifest: dict, task: Any) -> None:
    """An image model's input shape must agree with its preprocessing: [batch, channels, size, size]."""
    shape = manifest["input_spec"].get("shape")
    if task not in IMAGE_TASKS or shape is None:
        return
    pre = manifest["preprocessing"]
    expected = [pre["channels"], pre["size"], pre["size"]]
    if (
        not isinstance(shape, list)
        or len(shape) != 4
        or any(_is_int(d) and d != e for d, e in zip(shape[1:], expected, strict=True))
    ):
        raise invalid("input_spec.shape", shape, f"disagrees with preprocessing (expected [batch, *{expected}])")


def _check_postprocessing(post: Any) -> None:
    if not isinstance(post, dict):
        raise invalid("postprocessing", post, "must be a dict")
    for key, (low, high) in POSTPROCESSING_BOUNDS.items():
        if key in post and (not _is_number(post[key]) or not low <= post[key] <= high):
            raise invalid(f"postprocessing.{key}", post[key], f"must be a number in {low}..{high}")
    if "max_detections" in post:
        _bounded_int("postprocessing.max_detections", post["max_detections"], *MAX_DETECTIONS)


def _check_detector(det: Any, manifest: dict) -> None:
    """The detector config must agree with the class names and the preprocessing (cheap consistency)."""
    if not isinstance(det, dict):
        raise invalid("detector", det, "must be a dict")
    pre = manifest["preprocessing"]
    pairs = (
        ("num_classes", len(manifest["class_names"]), "class_names"),
        ("in_channels", pre.get("channels"), "preprocessing.channels"),
        ("input_size", pre.get("size"), "preprocessing.size"),
    )
    for key, expected, other in pairs:
        if key in det and expected is not None and det[key] != expected:
            raise invalid(f"detector.{key}", det[key], f"disagrees with {other} ({expected})")


def check_format(manifest: Any, source: str) -> None:
    """Refuse what is not a bundle manifest at all (3001) or a format from a newer release (3005)."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            f"not a {FORMAT} manifest",
            value=source,
            hint="re-create it with `deepseek-apps <app> export`",
        )
    version = manifest.get("format_version")
    if version not in SUPPORTED_VERSIONS or not _is_int(version):
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"bundle format_version {version!r} is not one this release reads {SUPPORTED_VERSIONS}",
            value=source,
            hint="upgrade deepseek-apps, or re-export the bundle with this version",
        )


def validate_manifest(manifest: Any, source: str = "") -> dict:
    """Check a parsed manifest; returns it unchanged or raises ``ModelFormatError`` (3001 / 3005 / 3008)."""
    check_format(manifest, source)
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise invalid(missing[0], None, f"is missing (missing keys: {missing})")
    app = manifest["application"]
    if not isinstance(app, str) or not 0 < len(app) <= 100:
        raise invalid("application", app, "must be a non-empty string")
    version = manifest["version"]
    if not (isinstance(version, str) and len(version) <= 100) and not _is_int(version):
        raise invalid("version", version, "must be a string or an integer")
    task = manifest.get("task")
    if task is not None and not isinstance(task, str):
        raise invalid("task", task, "must be a string")
    encrypted = manifest.get("encrypted", False)
    if not isinstance(encrypted, bool):
        raise invalid("encrypted", encrypted, "must be true or false")
    if encrypted:
        enc = manifest.get("encryption")
        if not isinstance(enc, dict) or enc.get("algorithm") != ENCRYPTION_ALGORITHM:
            raise invalid("encryption", enc, f"must record algorithm {ENCRYPTION_ALGORITHM!r}")
        if not isinstance(enc.get("key_check", ""), str):
            raise invalid("encryption.key_check", enc.get("key_check"), "must be a string")
    _check_files(manifest["files"], encrypted)
    _check_class_names(manifest["class_names"], task)
    _check_preprocessing(manifest["preprocessing"], task)
    for key in ("input_spec", "metrics"):
        if not isinstance(manifest[key], dict):
            raise invalid(key, manifest[key], "must be a dict")
    _check_input_spec(manifest, task)
    if "postprocessing" in manifest:
        _check_postprocessing(manifest["postprocessing"])
    if "detector" in manifest:
        _check_detector(manifest["detector"], manifest)
    model_file = manifest.get("model_file", DEFAULT_MODEL_FILE)
    if not is_plain_name(model_file):
        raise invalid("model_file", model_file, "must be a plain file name inside the bundle")
    if model_file not in manifest["files"]:
        raise invalid("model_file", model_file, "is not listed in files")
    return manifest


def check_class_count(manifest: dict, count: int, what: str = "the model's output") -> None:
    """Refuse a bundle whose ``class_names`` disagree with the number of classes the model outputs.

    Call it where the ONNX session is opened, with e.g. the last dimension of a classifier's
    logits (``session.get_outputs()[0].shape[-1]``); symbolic dimensions (strings) are skipped.
    """
    names = manifest.get("class_names")
    if not _is_int(count):
        return
    if not isinstance(names, list) or len(names) != count:
        raise invalid(
            "class_names",
            names,
            f"has {len(names) if isinstance(names, list) else '?'} names but {what} has {count} classes",
        )


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "MANIFEST_HASH_FILE",
    "RESERVED_NAMES",
    "REQUIRED_KEYS",
    "check_class_count",
    "check_format",
    "invalid",
    "is_plain_name",
    "validate_manifest",
]
