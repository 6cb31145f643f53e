"""Turn whatever the user passes (paths, PIL, numpy, torch) into validated PIL images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ...datasets.io import MAX_PIXELS, read_image
from ...errors import ErrorCode, InvalidInputError


def describe(item: Any) -> str:
    if isinstance(item, (str, Path)):
        return str(item)
    shape = getattr(item, "shape", None) or getattr(item, "size", None)
    return f"{type(item).__name__}{tuple(shape) if shape is not None else ''}"


def _from_array(arr: np.ndarray, what: str) -> Image.Image:
    if arr.dtype != np.uint8:
        raise InvalidInputError(
            ErrorCode.IMAGE_DTYPE,
            f"image array has dtype {arr.dtype}",
            value=what,
            hint="pass uint8 pixels in 0..255 (e.g. (x * 255).astype(np.uint8) for floats in 0..1)",
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InvalidInputError(
            ErrorCode.IMAGE_SHAPE,
            f"image array has shape {arr.shape}",
            value=what,
            hint="pass HxW (grayscale) or HxWxC with C in 1, 3, 4",
        )
    _check_size(arr.shape[1], arr.shape[0], what)
    return Image.fromarray(np.ascontiguousarray(arr)).convert("RGB")


def _check_size(width: int, height: int, what: str) -> None:
    if width == 0 or height == 0:
        raise InvalidInputError(
            ErrorCode.IMAGE_EMPTY, f"image is {width}x{height}", value=what, hint="pass a non-empty image"
        )
    if width * height > MAX_PIXELS:
        raise InvalidInputError(
            ErrorCode.IMAGE_TOO_LARGE,
            f"image is {width}x{height}, over the {MAX_PIXELS:,}-pixel limit",
            value=what,
            hint="downscale or tile the image before inspection",
        )


def to_pil(item: Any) -> Image.Image:
    """Validate and convert one input image to RGB PIL."""
    what = describe(item)
    if isinstance(item, (str, Path)):
        return read_image(item)
    if isinstance(item, Image.Image):
        _check_size(item.width, item.height, what)
        return item.convert("RGB")
    if isinstance(item, np.ndarray):
        return _from_array(item, what)
    if type(item).__module__.startswith("torch"):
        t = item.detach().cpu()
        if t.ndim == 3 and t.shape[0] in (1, 3, 4) and t.shape[-1] not in (1, 3, 4):
            t = t.permute(1, 2, 0)  # CHW -> HWC
        return _from_array(t.numpy(), what)
    raise InvalidInputError(
        ErrorCode.IMAGE_TYPE,
        f"cannot read an image from {type(item).__name__}",
        value=what,
        hint="pass a path, a PIL image, a uint8 numpy array or a uint8 torch tensor",
    )
