"""OCR through the Tesseract command line, pages in parallel single-threaded processes.

Tesseract is a Debian package (``tesseract-ocr`` plus ``tesseract-ocr-eng`` /
``tesseract-ocr-chi-sim``), not a Python dependency: we pipe a PNG into ``tesseract stdin
stdout`` with ``OMP_THREAD_LIMIT=1`` so that ``workers`` pages run side by side without the
engine's own threads fighting over the cores.

Example:
    >>> from deepseek_apps.apps.contracts.reading.ocr import tesseract_available
    >>> isinstance(tesseract_available(), bool)
    True
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from deepseek_apps.errors import ErrorCode, MissingResourceError, RuntimeFailure

INSTALL_HINT = "install it with: apt-get install -y tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim"


def tesseract_available() -> bool:
    """True when the ``tesseract`` binary is on the PATH."""
    return shutil.which("tesseract") is not None


@functools.lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    """Languages the installed Tesseract can read (``tesseract --list-langs``)."""
    binary = _binary()
    out = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30)
    lines = (out.stdout + out.stderr).splitlines()
    return frozenset(ln.strip() for ln in lines if ln.strip() and " " not in ln.strip() and not ln.endswith(":"))


def _binary() -> str:
    binary = shutil.which("tesseract")
    if binary is None:
        raise MissingResourceError(
            ErrorCode.CONTRACT_OCR_ENGINE_MISSING,
            "the Tesseract OCR engine is not installed (needed for scans and images)",
            value="tesseract",
            hint=INSTALL_HINT,
        )
    return binary


def check_language(lang: str) -> None:
    """Raise ``MissingResourceError`` when a language in ``lang`` ("eng+chi_sim") is missing."""
    missing = [code for code in lang.split("+") if code not in installed_languages()]
    if missing:
        raise MissingResourceError(
            ErrorCode.CONTRACT_OCR_LANGUAGE_MISSING,
            "Tesseract has no data for this OCR language",
            value="+".join(missing),
            hint=f"installed: {sorted(installed_languages())}; add e.g. tesseract-ocr-{missing[0].replace('_', '-')}",
        )


def ocr_image(image, lang: str = "eng", timeout: float = 120.0) -> str:
    """Text of one PIL image (single-threaded Tesseract process)."""
    binary = _binary()
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="PNG")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        out = subprocess.run(
            [binary, "stdin", "stdout", "-l", lang, "--psm", "3"],
            input=buffer.getvalue(),
            capture_output=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeFailure(
            ErrorCode.CONTRACT_OCR_FAILED, "OCR timed out on a page", value=f"{timeout}s", hint="check the scan"
        ) from exc
    if out.returncode != 0:
        raise RuntimeFailure(
            ErrorCode.CONTRACT_OCR_FAILED,
            "Tesseract failed on a page",
            value=out.stderr.decode(errors="replace")[-300:],
            hint="check the image and the OCR language",
        )
    return out.stdout.decode("utf-8", errors="replace")


def ocr_images(images: list, lang: str = "eng", workers: int = 2) -> list[str]:
    """OCR several images, ``workers`` Tesseract processes at a time, results in input order."""
    if not images:
        return []
    check_language(lang)
    if workers <= 1 or len(images) == 1:
        return [ocr_image(image, lang) for image in images]
    with ThreadPoolExecutor(max_workers=workers) as pool:  # threads only wait on subprocesses
        return list(pool.map(lambda image: ocr_image(image, lang), images))
