"""Image reading shared by the loaders, with our errors instead of PIL's."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..errors import ErrorCode, InvalidInputError, MissingResourceError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MAX_PIXELS = 50_000_000


def read_image(path: str | Path | None) -> Image.Image:
    """Read an image file fully (truncation is detected here, not later) as RGB."""
    if path is None:
        raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "sample has neither an image nor a path")
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND, "image file not found", value=str(path), hint="check the path"
        )
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise InvalidInputError(
                    ErrorCode.IMAGE_TOO_LARGE,
                    f"image is {img.width}x{img.height}, over the {MAX_PIXELS:,}-pixel limit",
                    value=str(path),
                    hint="downscale or tile the image before inspection",
                )
            img.load()
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(
            ErrorCode.IMAGE_UNREADABLE,
            f"cannot decode image ({type(exc).__name__}: {exc})",
            value=str(path),
            hint="re-export the file as PNG or JPEG; it may be truncated or not an image",
        ) from exc


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
