"""Edge bundles: ``manifest.json`` + ``model.onnx`` (+ a model card), as a folder or a ``.zip``.

The manifest records the application, version, class names, preprocessing, input spec,
the metrics the model shipped with and the sha256 of every other file. ``read_bundle``
refuses a bundle whose files do not match their hashes. Only the standard library is used.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ErrorCode, MissingResourceError, ModelFormatError

FORMAT = "deepseek-apps-bundle"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("application", "version", "class_names", "preprocessing", "input_spec", "metrics", "files")


@dataclass
class Bundle:
    manifest: dict[str, Any]
    files: dict[str, bytes]
    source: str

    @property
    def model_bytes(self) -> bytes:
        return self.files[self.manifest.get("model_file", "model.onnx")]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(out: str | Path, manifest: dict[str, Any], files: dict[str, bytes]) -> Path:
    """Write ``files`` and a manifest with their hashes to ``out`` (a ``.zip`` or a folder)."""
    out = Path(out)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **manifest,
        "files": {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in files.items()},
    }
    text = json.dumps(manifest, indent=2, default=float).encode()
    if out.suffix == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", text)
            for name, data in files.items():
                zf.writestr(name, data)
        tmp.replace(out)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
        (out / "manifest.json").write_bytes(text)
    return out


def _read_raw(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}
    try:
        with zipfile.ZipFile(path) as zf:
            return {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    except zipfile.BadZipFile as exc:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            "bundle is not a valid zip file",
            value=str(path),
            hint="re-create it with `deepseek-apps <app> export`",
        ) from exc


def read_bundle(path: str | Path) -> Bundle:
    """Read and verify a bundle; raises ``ModelFormatError`` on a bad manifest or a hash mismatch."""
    path = Path(path)
    if not path.exists():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            "bundle not found",
            value=str(path),
            hint="pass a bundle folder or .zip written by `export`",
        )
    raw = _read_raw(path)
    if "manifest.json" not in raw:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            "bundle has no manifest.json",
            value=str(path),
            hint="re-create it with `deepseek-apps <app> export`",
        )
    try:
        manifest = json.loads(raw["manifest.json"])
    except json.JSONDecodeError as exc:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID, f"manifest.json is not valid JSON ({exc})", value=str(path)
        ) from exc
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if manifest.get("format") != FORMAT or missing:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            f"not a {FORMAT} manifest (missing: {missing})",
            value=str(path),
            hint="re-create it with `deepseek-apps <app> export`",
        )
    files = {}
    for name, entry in manifest["files"].items():
        if name not in raw:
            raise ModelFormatError(
                ErrorCode.BUNDLE_INVALID,
                f"file '{name}' listed in the manifest is missing",
                value=str(path),
                hint="the bundle is incomplete; copy it again",
            )
        if sha256(raw[name]) != entry["sha256"]:
            raise ModelFormatError(
                ErrorCode.BUNDLE_HASH_MISMATCH,
                f"sha256 of '{name}' does not match the manifest",
                value=f"{path}:{name}",
                hint="the bundle was modified or corrupted; do not run it, re-export it",
            )
        files[name] = raw[name]
    return Bundle(manifest, files, str(path))
