"""Image reading shared by the loaders, with our errors instead of PIL's."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..errors import ErrorCode, InvalidInputError, MissingResourceError
from .pixels import decode_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def read_image(path: str | Path | None) -> Image.Image:
    """Read an image file fully as RGB: size checked from the header first (bombs are 1005), 16-bit scaled."""
    if path is None:
        raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "sample has neither an image nor a path")
    return decode_image(Path(path)).convert("RGB")


def image_size(path: str | Path) -> tuple[int, int]:
    """Return ``(width, height)`` read from the file header, without decoding the pixels."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND, "image file not found", value=str(path), hint="check the path"
        )
    try:
        with Image.open(path) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInputError(
            ErrorCode.IMAGE_UNREADABLE,
            f"cannot read image header ({type(exc).__name__}: {exc})",
            value=str(path),
            hint="re-export the file as PNG or JPEG; it may be truncated or not an image",
        ) from exc


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
