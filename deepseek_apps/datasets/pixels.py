"""Decoding images and reducing their depth to 8 bits, for every reader (datasets, training, inference, edge).

numpy + Pillow only (the edge runtime imports it without PyTorch).

Pixel depth is reduced to 8 bits by scaling, never by clipping (Pillow's ``convert("L")``
clips a 16-bit image to 255 almost everywhere):

- 8-bit modes (``L``, ``RGB``, ``P``, ``1``, ``CMYK``, ...) are kept as they are;
- 16-bit modes (``I;16``, ``I;16B``, ...) and ``I`` (32-bit integers, which Pillow uses for
  16-bit data) are read as 0..65535 and scaled to 0..255 (32768 -> 128); ``I`` values outside
  0..65535 have no defined 8-bit reading;
- ``F`` (32-bit float): 0..1 is scaled by 255, 0..255 is kept; other ranges, NaN and infinity
  have no defined 8-bit reading;
- unsigned integer and boolean arrays (``scale_to_uint8``) are scaled by their dtype's range.

What has no defined reading raises ``InvalidInputError`` with code 1003 (``IMAGE_DTYPE``).

``decode_image`` reads a file or encoded bytes with the size checked from the header before
a pixel is decoded (``MAX_PIXELS``): a decompression bomb is ``IMAGE_TOO_LARGE`` (1005), never
Pillow's ``DecompressionBombError``, and whatever else Pillow raises is ``IMAGE_UNREADABLE`` (1001).

Example:
    >>> import numpy as np
    >>> from PIL import Image
    >>> grey16 = Image.fromarray(np.full((2, 2), 32768, np.uint16))
    >>> grey16.mode, np.asarray(to_8bit(grey16)).max()
    ('I;16', np.uint8(128))
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DeepSeekAppsError, ErrorCode, InvalidInputError, MissingResourceError

MAX_PIXELS = 50_000_000  # default image size limit (width x height), checked before decoding
DECOMPRESSION_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)

EIGHT_BIT_MODES = frozenset(
    {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}
)


def scalable(dtype: np.dtype) -> bool:
    """Whether ``scale_to_uint8`` reads pixels of ``dtype`` (bool, uint8, uint16, uint32; any byte order)."""
    return dtype.kind == "b" or (dtype.kind == "u" and dtype.itemsize in (1, 2, 4))


def scale_to_uint8(pixels: np.ndarray, what: str = "image") -> np.ndarray:
    """Boolean or unsigned integer pixels -> uint8, scaled by the dtype's range (rounded).

    ``bool`` -> 0 / 255, ``uint16`` 0..65535 -> 0..255, ``uint32`` 0..2**32-1 -> 0..255.
    Other dtypes (signed, float, complex, object) raise ``IMAGE_DTYPE`` (1003).
    """
    dtype = pixels.dtype
    if dtype.kind == "u" and dtype.itemsize == 1:
        return pixels
    if dtype.kind == "b":
        return pixels.astype(np.uint8) * np.uint8(255)
    if dtype.kind == "u" and dtype.itemsize in (2, 4):
        top = np.iinfo(dtype).max // 255  # 257 for uint16: 65535 -> 255, 32768 -> 128
        wide = np.uint32 if dtype.itemsize == 2 else np.uint64
        return ((pixels.astype(wide) + top // 2) // top).astype(np.uint8)
    raise InvalidInputError(
        ErrorCode.IMAGE_DTYPE,
        f"image pixels have dtype {dtype}, which has no defined 0..255 reading",
        value=what,
        hint="pass uint8 (or uint16 / bool) pixels; for floats in 0..1 use (x * 255).round().astype(np.uint8)",
    )


def to_8bit(image: Image.Image, what: str = "image") -> Image.Image:
    """``image`` with 8 bits per channel; wider modes are scaled by their range (see the module docstring)."""
    if image.mode in EIGHT_BIT_MODES:
        return image
    pixels = np.asarray(image)
    if image.mode.startswith("I;16") and pixels.dtype.kind == "u":
        return Image.fromarray(scale_to_uint8(pixels.astype(np.uint16), what))
    if image.mode in ("I", "F") or image.mode.startswith("I;"):
        return Image.fromarray(_scale_wide(pixels, image.mode, what))
    return image.convert("RGB")  # other rare modes: Pillow's own conversion


def _scale_wide(pixels: np.ndarray, mode: str, what: str) -> np.ndarray:
    if mode == "F":
        finite = bool(np.isfinite(pixels).all())
        low, high = (float(pixels.min()), float(pixels.max())) if pixels.size and finite else (0.0, 0.0)
        if finite and low >= 0.0 and high <= 1.0:
            return np.rint(pixels * 255.0).astype(np.uint8)
        if finite and low >= 0.0 and high <= 255.0:
            return np.rint(pixels).astype(np.uint8)
        reason = "NaN or infinite values" if not finite else f"values in {low:g}..{high:g}"
        allowed = "0..1 or 0..255"
    else:
        low, high = (int(pixels.min()), int(pixels.max())) if pixels.size else (0, 0)
        if low >= 0 and high <= 65535:
            return scale_to_uint8(pixels.astype(np.uint16), what)
        reason, allowed = f"values in {low}..{high}", "0..65535 (16-bit)"
    raise InvalidInputError(
        ErrorCode.IMAGE_DTYPE,
        f"a mode-{mode} image has {reason}, outside {allowed}: no defined 0..255 reading",
        value=what,
        hint="rescale the image to 8 or 16 bits per channel before passing it",
    )


def check_image_size(width: int, height: int, what: str, max_pixels: int = MAX_PIXELS) -> None:
    """``IMAGE_EMPTY`` (1002) for no pixels, ``IMAGE_TOO_LARGE`` (1005) for more than ``max_pixels``."""
    if width == 0 or height == 0:
        raise InvalidInputError(
            ErrorCode.IMAGE_EMPTY, f"image is {width}x{height}", value=what, hint="pass a non-empty image"
        )
    if width * height > max_pixels:
        raise image_too_large(what, max_pixels, f"{width}x{height}")


def image_too_large(what: str, max_pixels: int, size: str) -> InvalidInputError:
    return InvalidInputError(
        ErrorCode.IMAGE_TOO_LARGE,
        f"image is over the {max_pixels:,}-pixel limit ({size})",
        value=what,
        hint="downscale or tile the image first (a small file this large may be a decompression bomb)",
    )


def decode_image(source: str | Path | bytes, max_pixels: int = MAX_PIXELS, what: str | None = None) -> Image.Image:
    """An image file (path) or its encoded bytes -> RGB, 16-bit scaled, the size checked before decoding.

    Raises:
        MissingResourceError: ``FILE_NOT_FOUND`` (2001).
        InvalidInputError: ``IMAGE_EMPTY`` (1002, 0 bytes), ``IMAGE_TOO_LARGE`` (1005, over
            ``max_pixels`` or a decompression bomb), ``IMAGE_UNREADABLE`` (1001, anything Pillow
            fails on: truncated, not an image; the exception's class and message in ``value``),
            ``IMAGE_DTYPE`` (1003, see ``to_8bit``).
    """
    encoded = isinstance(source, bytes | bytearray | memoryview)
    what = what or (f"{type(source).__name__}[{len(source)}]" if encoded else str(source))
    stream = io.BytesIO(source) if encoded else _existing_file(Path(source), what)
    if (stream.getbuffer().nbytes if encoded else stream.stat().st_size) == 0:
        raise InvalidInputError(ErrorCode.IMAGE_EMPTY, "the image file is empty (0 bytes)", value=what,
                                hint="pass a PNG, JPEG, BMP, TIFF or WebP file")  # fmt: skip
    try:
        with Image.open(stream) as img:  # reads the header only
            check_image_size(img.width, img.height, what, max_pixels)
            img.load()  # the whole file: truncation is detected here, not later
            return to_8bit(img, what).convert("RGB")
    except DeepSeekAppsError:
        raise
    except DECOMPRESSION_BOMB as exc:
        raise image_too_large(what, max_pixels, str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise InvalidInputError(
            ErrorCode.IMAGE_UNREADABLE,
            "cannot decode the image: not a format Pillow recognises",
            value=f"{what}: UnidentifiedImageError",
            hint="pass a PNG, JPEG, BMP, TIFF or WebP file; this one may not be an image at all",
        ) from exc
    except Exception as exc:  # OSError (truncated), SyntaxError, ValueError, a decoder's own errors
        raise InvalidInputError(
            ErrorCode.IMAGE_UNREADABLE,
            f"cannot decode the image ({type(exc).__name__}: {exc})",
            value=f"{what}: {type(exc).__name__}: {exc}",
            hint="re-export the file as PNG or JPEG; it may be truncated or damaged",
        ) from exc


def _existing_file(path: Path, what: str) -> Path:
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte in it
        found = False
    if not found:
        raise MissingResourceError(ErrorCode.FILE_NOT_FOUND, "image file not found", value=what, hint="check the path")
    return path
