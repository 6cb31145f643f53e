"""Hostile images: every bad item is a coded error, and the good items of a batch are unchanged.

Cases (-> code): decompression bomb on disk and as bytes (1005), an image over ``max_pixels``
that Pillow only warns about (1005), empty bytes / file (1002), truncated PNG and a text
file named .png (1001), a library exception inside a reader (1001, class named), 0-d / 1-d /
4-d / two-channel arrays (1004), complex / object / signed / float arrays, float16 and
bfloat16 tensors, a float image outside 0..1 (1003), sparse and meta tensors, None, dicts and
other objects (1006). 16-bit PNG / TIFF, mode ``I`` and ``F`` images, uint16 arrays and
tensors are scaled (a mid-grey 16-bit image reads as mid-grey), bool arrays read as 0 / 255.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.images import to_pil
from deepseek_apps.apps.inspector.scoring import score_files
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid 1-bit PNG of zeros: about 0.1 MB on disk, ``width * height`` pixels decoded."""
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(1)
    body = b"".join(comp.compress(row * 1000) for _ in range(height // 1000))
    body += comp.compress(row * (height % 1000)) + comp.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bomb_png()


@pytest.fixture(scope="module")
def inspector():
    return QualityInspector(confidence_threshold=0.2, batch_size=4)


def _answer(result) -> dict:
    """What a result says about its image (timing and the source label left out)."""
    return {k: v for k, v in result.to_dict().items() if k not in ("latency_ms", "source")}


def _code(item) -> int:
    with pytest.raises(DeepSeekAppsError) as info:
        to_pil(item)
    return info.value.code


class _BrokenImage(Image.Image):
    """A PIL image whose conversion fails inside the library (stands for any decoder bug)."""

    def __init__(self):
        super().__init__()
        self._mode, self._size = "RGB", (8, 8)

    def convert(self, *args, **kwargs):
        raise ZeroDivisionError("decoder bug")


def _hostile(tmp_path, bomb) -> dict[str, tuple[object, int]]:
    (tmp_path / "bomb.png").write_bytes(bomb)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("this is a text file, not a PNG\n")
    good = tmp_path / "full.png"
    Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)).save(good)
    (tmp_path / "trunc.png").write_bytes(good.read_bytes()[:300])
    return {
        "bomb file": (tmp_path / "bomb.png", ErrorCode.IMAGE_TOO_LARGE),
        "bomb bytes": (bomb, ErrorCode.IMAGE_TOO_LARGE),
        "over max_pixels, Pillow only warns": (bomb_png(10000, 10000), ErrorCode.IMAGE_TOO_LARGE),
        "empty bytes": (b"", ErrorCode.IMAGE_EMPTY),
        "empty file": (tmp_path / "empty.png", ErrorCode.IMAGE_EMPTY),
        "truncated png": (tmp_path / "trunc.png", ErrorCode.IMAGE_UNREADABLE),
        "text named .png": (tmp_path / "notes.png", ErrorCode.IMAGE_UNREADABLE),
        "garbage bytes": (b"\x00\x01garbage", ErrorCode.IMAGE_UNREADABLE),
        "library exception": (_BrokenImage(), ErrorCode.IMAGE_UNREADABLE),
        "0-d array": (np.array(7, np.uint8), ErrorCode.IMAGE_SHAPE),
        "0-d int64 array": (np.array(7), ErrorCode.IMAGE_SHAPE),
        "0-d tensor": (torch.tensor(7, dtype=torch.uint8), ErrorCode.IMAGE_SHAPE),
        "1-d array": (np.zeros(64, np.uint8), ErrorCode.IMAGE_SHAPE),
        "4-d batch array": (np.zeros((1, 32, 32, 3), np.uint8), ErrorCode.IMAGE_SHAPE),
        "two channels": (np.zeros((32, 32, 2), np.uint8), ErrorCode.IMAGE_SHAPE),
        "empty array": (np.zeros((0, 32, 3), np.uint8), ErrorCode.IMAGE_EMPTY),
        "complex array": (np.zeros((32, 32), np.complex64), ErrorCode.IMAGE_DTYPE),
        "object array": (np.full((32, 32), None, object), ErrorCode.IMAGE_DTYPE),
        "int16 array": (np.zeros((32, 32), np.int16), ErrorCode.IMAGE_DTYPE),
        "float32 array": (np.zeros((32, 32), np.float32), ErrorCode.IMAGE_DTYPE),
        "bfloat16 tensor": (torch.zeros(3, 32, 32, dtype=torch.bfloat16), ErrorCode.IMAGE_DTYPE),
        "float16 tensor": (torch.zeros(32, 32, dtype=torch.float16), ErrorCode.IMAGE_DTYPE),
        "complex tensor": (torch.zeros(32, 32, dtype=torch.complex64), ErrorCode.IMAGE_DTYPE),
        "float image outside 0..1 and 0..255": (
            Image.fromarray(np.full((8, 8), 300.0, np.float32)),
            ErrorCode.IMAGE_DTYPE,
        ),
        "float image with NaN": (Image.fromarray(np.full((8, 8), np.nan, np.float32)), ErrorCode.IMAGE_DTYPE),
        "negative mode-I image": (Image.fromarray(np.full((8, 8), -5, np.int32)), ErrorCode.IMAGE_DTYPE),
        "sparse tensor": (torch.zeros(32, 32, dtype=torch.uint8).to_sparse(), ErrorCode.IMAGE_TYPE),
        "meta tensor": (torch.zeros(32, 32, dtype=torch.uint8, device="meta"), ErrorCode.IMAGE_TYPE),
        "None": (None, ErrorCode.IMAGE_TYPE),
        "dict": ({"image": "a.png"}, ErrorCode.IMAGE_TYPE),
        "generator": ((x for x in range(3)), ErrorCode.IMAGE_TYPE),
        "missing file": (tmp_path / "missing.png", ErrorCode.FILE_NOT_FOUND),
        "path name too long": ("x" * 5000 + ".png", ErrorCode.FILE_NOT_FOUND),
    }


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")  # a warning raised is refused the same
def test_every_hostile_image_is_its_coded_error_and_good_images_are_unchanged(inspector, sample_images, tmp_path, bomb):
    cases = _hostile(tmp_path, bomb)
    for name, (item, code) in cases.items():
        assert _code(item) == code, name
    good = sample_images[:3]
    clean = [_answer(r) for r in inspector.predict(good)]
    names, items = list(cases), [item for item, _ in cases.values()]
    mixed = [good[0], *items[:12], good[1], *items[12:], good[2]]  # good images spread across batches
    results = inspector.predict(mixed, errors="record")
    assert len(results) == len(mixed)
    assert [_answer(results[i]) for i in (0, 13, len(mixed) - 1)] == clean
    bad = [r for i, r in enumerate(results) if i not in (0, 13, len(mixed) - 1)]
    assert [r.error["code"] for r in bad] == [code for _, code in cases.values()]
    assert all(r.verdict == "ERROR" and not r.defects for r in bad)
    broken = bad[names.index("library exception")].error
    assert "ZeroDivisionError" in broken["value"] and "decoder bug" in broken["value"]


def test_mid_grey_16_bit_png_reads_as_mid_grey(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((32, 48), 32768, np.uint16)).save(path)
    assert Image.open(path).mode == "I;16"
    pixels = np.asarray(to_pil(path))
    assert pixels.shape == (32, 48, 3) and (pixels == 128).all()  # Pillow's convert gives 255
    ramp = np.arange(0, 65536, 257, dtype=np.uint16)[None].repeat(4, 0)  # 0, 257, ..., 65535
    assert (np.asarray(to_pil(ramp))[0, :, 0] == np.arange(256)).all()


def test_16_bit_inputs_give_the_same_defects_as_their_8_bit_originals(inspector, sample_images, tmp_path):
    image8 = np.asarray(sample_images[0].convert("L"))
    image16 = image8.astype(np.uint16) * 257  # the same picture at 16 bits: 255 -> 65535
    Image.fromarray(image16).save(tmp_path / "s16.png")
    Image.fromarray(image16).save(tmp_path / "s16.tif")
    as_i = Image.fromarray(image16.astype(np.int32))  # mode I: Pillow's 32-bit integers
    as_f = Image.fromarray(image8.astype(np.float32) / 255.0)  # mode F in 0..1
    inputs = [tmp_path / "s16.png", tmp_path / "s16.tif", image16, torch.from_numpy(image16), as_i, as_f]
    assert as_i.mode == "I" and as_f.mode == "F"
    reference = _answer(inspector.predict([image8])[0])
    assert [_answer(r) for r in inspector.predict(inputs)] == [reference] * len(inputs)


def test_bool_and_uint16_rgb_arrays_are_scaled():
    mask = np.zeros((8, 8), bool)
    mask[2:4] = True
    assert set(np.unique(np.asarray(to_pil(mask)))) == {0, 255}
    rgb16 = np.zeros((8, 8, 3), np.uint16)
    rgb16[..., 0] = 65535
    assert to_pil(rgb16).getpixel((0, 0)) == (255, 0, 0)
    assert to_pil(torch.full((3, 8, 8), 32768, dtype=torch.uint16)).getpixel((0, 0)) == (128, 128, 128)


def test_score_records_a_bomb_and_goes_on_and_a_rerun_does_not_die(inspector, sample_images, tmp_path, bomb):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, im in enumerate(sample_images[:5]):
        im.save(folder / f"good{i}.png")
    (folder / "good2b.png").write_bytes(bomb)  # sorted between good images, inside a batch
    Image.fromarray(np.full((40, 40), 32768, np.uint16)).save(folder / "grey16.png")
    out = tmp_path / "out.jsonl"
    summary = score_files(inspector, [str(folder)], out, progress=False)
    assert (summary.total, summary.errors, summary.scored_now) == (7, 1, 7)
    records = {json.loads(line)["source"]: json.loads(line) for line in out.read_text().splitlines()}
    assert records[str(folder / "good2b.png")]["error"]["code"] == ErrorCode.IMAGE_TOO_LARGE
    clean = inspector.predict([folder / f"good{i}.png" for i in range(5)])
    for i, result in enumerate(clean):
        record = records[str(folder / f"good{i}.png")]
        assert {k: v for k, v in record.items() if k not in ("latency_ms", "source")} == _answer(result)
    again = score_files(inspector, [str(folder)], out, progress=False)  # the bomb is not retried, nothing dies
    assert (again.scored_now, again.skipped, again.errors) == (0, 7, 1)
    assert len(out.read_text().splitlines()) == 7


_BOUNDED = """
import resource, sys
from deepseek_apps.apps.inspector.images import to_pil
from deepseek_apps.errors import DeepSeekAppsError
with open("/proc/self/status") as fh:
    vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (vm + 300 * 2**20, resource.RLIM_INFINITY))  # 300 MB more
try:
    to_pil(sys.argv[1])
except DeepSeekAppsError as exc:
    print(exc.code)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc for the memory limit")
def test_a_bomb_is_refused_within_a_memory_bound(tmp_path, bomb):
    """Decoding the bomb would take 900 MB (mode 1) and 2.7 GB (RGB); refusing it fits in 300 MB."""
    (tmp_path / "bomb.png").write_bytes(bomb)
    proc = subprocess.run(
        [sys.executable, "-c", _BOUNDED, str(tmp_path / "bomb.png")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(int(ErrorCode.IMAGE_TOO_LARGE))


_DTYPES = st.sampled_from(["u1", "u2", ">u2", "u4", "u8", "i1", "i2", "i4", "i8", "f2", "f4", "f8", "c8", "?", "M8[s]"])


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_any_array_is_an_rgb_image_or_a_coded_error(arr):
    try:
        image = to_pil(arr)
    except DeepSeekAppsError as exc:
        assert exc.code in (ErrorCode.IMAGE_EMPTY, ErrorCode.IMAGE_DTYPE, ErrorCode.IMAGE_SHAPE)
        return
    assert image.mode == "RGB" and image.size == (arr.shape[1], arr.shape[0])


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"BM"]))
def test_any_bytes_are_an_image_or_a_coded_error(data, magic):
    try:
        assert to_pil(magic + data).mode == "RGB"
    except DeepSeekAppsError as exc:
        assert exc.code in (ErrorCode.IMAGE_EMPTY, ErrorCode.IMAGE_UNREADABLE, ErrorCode.IMAGE_TOO_LARGE)
