"""The entries of a bundle (zip or folder): listed and size-checked first, then streamed under a budget.

``open_entries`` reads only the zip's central directory (or the folder's listing): entry
names, kinds and declared sizes, refusing unsafe names (3008) and sizes over the limits
(3006) before a single byte is inflated. ``read`` streams one entry in chunks with a
running byte count, so an entry whose header lies about its size cannot inflate past the
budget it was given.
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ...errors import ErrorCode, ModelFormatError

GiB = 1 << 30
MiB = 1 << 20
CHUNK = MiB

# Named limits; the shipped bundles are far below them (contracts, the largest, is ~60 MB).
MAX_ENTRY_BYTES = 1 * GiB  # one inflated file
MAX_TOTAL_BYTES = 2 * GiB  # all inflated files together
MAX_MANIFEST_BYTES = 16 * MiB  # manifest.json (metrics and reports included)
MAX_SIDECAR_BYTES = 64 * 1024  # manifest.sha256, manifest.sig
MAX_ENTRIES = 10_000  # entries in the zip or the folder

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,  # an encrypted zip entry
    NotImplementedError,  # an unsupported compression method
)


@dataclass(frozen=True)
class BundleLimits:
    """Resource limits of ``read_bundle``, each checked before the expensive work.

    Attributes:
        max_entry_bytes: the largest inflated size of one file (3006 when exceeded).
        max_total_bytes: the largest inflated size of all files together (3006).
        max_manifest_bytes: the largest ``manifest.json`` (3006).
        max_entries: the most entries the zip or folder may hold (3006).
    """

    max_entry_bytes: int = MAX_ENTRY_BYTES
    max_total_bytes: int = MAX_TOTAL_BYTES
    max_manifest_bytes: int = MAX_MANIFEST_BYTES
    max_entries: int = MAX_ENTRIES


def too_large(what: str, size: int, limit: int, source: str, setting: str) -> ModelFormatError:
    return ModelFormatError(
        ErrorCode.BUNDLE_TOO_LARGE,
        f"{what} is {size} bytes, over the limit of {limit}",
        value=source,
        hint=f"raise {setting} if you trust this bundle; a bundle this large is refused before it is inflated",
    )


def _unsafe(name: str, source: str, why: str) -> ModelFormatError:
    return ModelFormatError(
        ErrorCode.BUNDLE_MANIFEST_INVALID,
        f"bundle entry {name!r} {why}",
        value=source,
        hint="a bundle holds plain files only; do not run it, re-create it with `export`",
    )


def _corrupt(name: str, source: str, exc: BaseException) -> ModelFormatError:
    return ModelFormatError(
        ErrorCode.BUNDLE_INVALID,
        f"bundle entry {name!r} cannot be read ({type(exc).__name__}: {exc})",
        value=source,
        hint="the bundle is damaged; copy it again or re-export it",
    )


def _check_name(name: str, source: str) -> None:
    """Absolute names, drive letters, backslashes and '..' are refused; other folders are unlisted entries."""
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or ".." in parts or ":" in parts[0] or "\0" in name:
        raise _unsafe(name, source, "is an absolute name or leaves the bundle")


class ZipEntries:
    """The entries of a ``.zip`` bundle, from its central directory."""

    def __init__(self, path: Path, limits: BundleLimits):
        self.source = str(path)
        if not path.is_file():
            raise ModelFormatError(ErrorCode.BUNDLE_INVALID, "bundle is not a file or a folder", value=str(path))
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except _ZIP_ERRORS as exc:
            raise ModelFormatError(
                ErrorCode.BUNDLE_INVALID,
                f"bundle is not a valid zip file ({type(exc).__name__})",
                value=str(path),
                hint="re-create it with `deepseek-apps <app> export`",
            ) from exc
        self.sizes: dict[str, int] = {}
        self._infos: dict[str, zipfile.ZipInfo] = {}
        try:
            self._list(infos, limits)
        except ModelFormatError:
            self.close()
            raise

    def _list(self, infos: list[zipfile.ZipInfo], limits: BundleLimits) -> None:
        if len(infos) > limits.max_entries:
            raise too_large("the entry count", len(infos), limits.max_entries, self.source, "max_entries")
        for info in infos:
            _check_name(info.filename, self.source)
            if info.filename in self.sizes:
                raise _unsafe(info.filename, self.source, "appears twice in the zip")
            self.sizes[info.filename] = info.file_size
            self._infos[info.filename] = info

    def read(self, name: str, limit: int) -> bytes:
        """The inflated bytes of ``name``; stops with 3006 as soon as more than ``limit`` bytes come out."""
        chunks, count = [], 0
        try:
            with self._zip.open(self._infos[name]) as f:
                while chunk := f.read(CHUNK):
                    count += len(chunk)
                    if count > limit:
                        raise too_large(f"entry {name!r}", count, limit, self.source, "max_entry_bytes")
                    chunks.append(chunk)
        except _ZIP_ERRORS as exc:
            raise _corrupt(name, self.source, exc) from exc
        return b"".join(chunks)

    def close(self) -> None:
        self._zip.close()


class FolderEntries:
    """The files of a bundle folder; symlinks must stay inside it, special files are refused."""

    def __init__(self, path: Path, limits: BundleLimits):
        self.source = str(path)
        self.root = path.resolve()
        self.sizes: dict[str, int] = {}
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError as exc:
            raise _corrupt(".", self.source, exc) from exc
        if len(entries) > limits.max_entries:
            raise too_large("the entry count", len(entries), limits.max_entries, self.source, "max_entries")
        for entry in entries:
            name, size = self._inspect(entry)
            self.sizes[name] = size

    def _inspect(self, entry: os.DirEntry) -> tuple[str, int]:
        """``(name, size)``; a sub-folder is named ``name/`` (never listed in a manifest: refused as unlisted)."""
        if entry.is_symlink():
            try:
                inside = Path(entry.path).resolve().is_relative_to(self.root)
            except (OSError, RuntimeError) as exc:  # a symlink loop
                raise _unsafe(entry.name, self.source, f"is a symlink that cannot be resolved ({exc})") from exc
            if not inside:
                raise _unsafe(entry.name, self.source, "is a symlink that leaves the bundle folder")
        try:
            info = os.stat(entry.path)
        except OSError as exc:
            raise _unsafe(entry.name, self.source, f"cannot be inspected ({exc.strerror})") from exc
        if stat.S_ISDIR(info.st_mode):
            return entry.name + "/", 0
        if not stat.S_ISREG(info.st_mode):
            raise _unsafe(entry.name, self.source, "is not a regular file")
        return entry.name, info.st_size

    def read(self, name: str, limit: int) -> bytes:
        chunks, count = [], 0
        try:
            with open(self.root / name, "rb") as f:
                while chunk := f.read(CHUNK):
                    count += len(chunk)
                    if count > limit:
                        raise too_large(f"file {name!r}", count, limit, self.source, "max_entry_bytes")
                    chunks.append(chunk)
        except OSError as exc:
            raise _corrupt(name, self.source, exc) from exc
        return b"".join(chunks)

    def close(self) -> None:
        pass


def open_entries(path: Path, limits: BundleLimits) -> ZipEntries | FolderEntries:
    """List a bundle and check every declared size against ``limits`` before anything is read."""
    entries = FolderEntries(path, limits) if path.is_dir() else ZipEntries(path, limits)
    try:
        for name, size in entries.sizes.items():
            if size > limits.max_entry_bytes:
                raise too_large(f"entry {name!r}", size, limits.max_entry_bytes, entries.source, "max_entry_bytes")
        total = sum(entries.sizes.values())
        if total > limits.max_total_bytes:
            raise too_large("the bundle", total, limits.max_total_bytes, entries.source, "max_total_bytes")
    except ModelFormatError:
        entries.close()
        raise
    return entries


__all__ = ["BundleLimits", "FolderEntries", "ZipEntries", "open_entries", "too_large"]
