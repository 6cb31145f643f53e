"""Turn whatever the user passes (paths, bytes, PIL, numpy, torch) into validated RGB PIL images.

Every refusal is an ``InvalidInputError`` with its own code, whatever went wrong:

- files and encoded bytes: the size is read from the header and checked against
  ``max_pixels`` (``MAX_PIXELS``, 50 million) before a pixel is decoded; over it, and what
  Pillow calls a decompression bomb, is ``IMAGE_TOO_LARGE`` (1005). A missing file is
  ``FILE_NOT_FOUND`` (2001), an empty one ``IMAGE_EMPTY`` (1002), one Pillow cannot decode
  (truncated, not an image) ``IMAGE_UNREADABLE`` (1001).
- pixel depth (``core.runtime.preprocess``): 8-bit as it is; 16-bit files (``I;16``, ``I``)
  and ``uint16`` / ``uint32`` arrays and tensors are scaled by their range (65535 -> 255),
  float images (mode ``F``) in 0..1 by 255, ``bool`` to 0 / 255. Signed or float arrays and
  tensors (float16, bfloat16, float32 ...), complex and object arrays are ``IMAGE_DTYPE`` (1003):
  their range is not defined.
- shapes: ``HxW``, ``HxWxC`` (C in 1, 3, 4) and torch ``CxHxW``; anything else (0-d, 1-d,
  4-d, two channels) is ``IMAGE_SHAPE`` (1004); no pixels at all ``IMAGE_EMPTY`` (1002).
- sparse, meta and nested tensors, and objects of any other type: ``IMAGE_TYPE`` (1006).
- any other exception while reading one image (a library's) becomes ``IMAGE_UNREADABLE``
  (1001) naming the exception's class and message: no library exception escapes ``to_pil``.

Example:
    >>> import numpy as np
    >>> to_pil(np.full((4, 4), 32768, np.uint16)).getpixel((0, 0))  # 16-bit mid-grey
    (128, 128, 128)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ...core.runtime.preprocess import (
    DECOMPRESSION_BOMB,
    MAX_PIXELS,
    check_image_size,
    decode_image,
    image_too_large,
    scalable,
    scale_to_uint8,
    to_8bit,
)
from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError

ENCODED = (bytes, bytearray, memoryview)


def describe(item: Any) -> str:
    """A short name for ``item`` in results and errors (never raises)."""
    if isinstance(item, (str, Path)):
        return str(item)
    try:
        if isinstance(item, ENCODED):
            return f"{type(item).__name__}[{len(item)}]"
        shape = getattr(item, "shape", None)
        if shape is None and isinstance(getattr(item, "size", None), tuple):
            shape = item.size  # PIL: (width, height)
        return f"{type(item).__name__}{tuple(shape) if shape is not None else ''}"
    except Exception:  # noqa: BLE001 - a name is best effort; the reader reports the real problem
        return type(item).__name__


def to_pil(item: Any, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Validate and convert one input image to RGB PIL (see the module docstring for the rules).

    Args:
        item: a path, encoded file bytes, a PIL image, a numpy array or a torch tensor.
        max_pixels: images with more pixels than this are refused (``IMAGE_TOO_LARGE``)
            before their pixels are decoded or copied.
    """
    what = describe(item)
    try:
        return _convert(item, what, max_pixels)
    except DeepSeekAppsError:
        raise
    except DECOMPRESSION_BOMB as exc:
        raise image_too_large(what, max_pixels, str(exc)) from exc
    except Exception as exc:  # truncated files (OSError), a decoder's or a library's own errors
        raise InvalidInputError(
            ErrorCode.IMAGE_UNREADABLE,
            f"cannot read the image ({type(exc).__name__}: {exc})",
            value=f"{what}: {type(exc).__name__}: {exc}",
            hint="re-export the file as PNG or JPEG; it may be truncated, damaged or not an image",
        ) from exc


def _convert(item: Any, what: str, max_pixels: int) -> Image.Image:
    if isinstance(item, (str, Path, *ENCODED)):
        return decode_image(item, max_pixels, what)
    if isinstance(item, Image.Image):
        check_image_size(item.width, item.height, what, max_pixels)
        return to_8bit(item, what).convert("RGB")
    if isinstance(item, np.ndarray):
        return _from_array(item, what, max_pixels)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(item, torch.Tensor):
        return _from_array(_tensor_pixels(item, what, max_pixels, torch), what, max_pixels)
    raise InvalidInputError(
        ErrorCode.IMAGE_TYPE,
        f"cannot read an image from {type(item).__name__}",
        value=what,
        hint="pass a path, encoded image bytes, a PIL image, a uint8 numpy array or a uint8 torch tensor",
    )


# ---------------------------------------------------------------------- arrays and tensors
def _tensor_pixels(t: Any, what: str, max_pixels: int, torch: Any) -> np.ndarray:
    """A strided, real-data torch tensor with a pixel dtype -> numpy HxW(xC), checked before copying."""
    if t.layout != torch.strided or getattr(t, "is_nested", False):
        raise InvalidInputError(
            ErrorCode.IMAGE_TYPE,
            f"cannot read an image from a {'nested' if getattr(t, 'is_nested', False) else t.layout} tensor",
            value=what,
            hint="pass a dense tensor (t.to_dense())",
        )
    if t.is_meta:
        raise InvalidInputError(ErrorCode.IMAGE_TYPE, "a meta tensor has no pixel data", value=what,
                                hint="pass a tensor on the CPU or a GPU")  # fmt: skip
    shape = tuple(t.shape)
    if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[-1] not in (1, 3, 4):
        t, shape = t.permute(1, 2, 0), (shape[1], shape[2], shape[0])  # CHW -> HWC
    _check_shape(shape, what, max_pixels)
    wanted = {torch.uint8, torch.bool} | {getattr(torch, n) for n in ("uint16", "uint32") if hasattr(torch, n)}
    if t.dtype not in wanted:
        _raise_dtype(str(t.dtype).replace("torch.", ""), what)
    return t.detach().cpu().contiguous().numpy()


def _from_array(arr: np.ndarray, what: str, max_pixels: int) -> Image.Image:
    _check_shape(arr.shape, what, max_pixels)
    if not scalable(arr.dtype):
        _raise_dtype(str(arr.dtype), what)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    pixels = scale_to_uint8(np.ascontiguousarray(arr), what)
    return Image.fromarray(pixels).convert("RGB")


def _raise_dtype(dtype: str, what: str) -> None:
    raise InvalidInputError(
        ErrorCode.IMAGE_DTYPE,
        f"image array has dtype {dtype}",
        value=what,
        hint="pass uint8 pixels in 0..255 (e.g. (x * 255).round().astype(np.uint8) for floats in 0..1); "
        "uint16 and bool are scaled",
    )


def _check_shape(shape: tuple[int, ...], what: str, max_pixels: int) -> None:
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3, 4)):
        raise InvalidInputError(
            ErrorCode.IMAGE_SHAPE,
            f"image array has shape {tuple(shape)}",
            value=what,
            hint="pass one image as HxW (grayscale) or HxWxC with C in 1, 3, 4 (torch: also CxHxW)",
        )
    check_image_size(shape[1], shape[0], what, max_pixels)
