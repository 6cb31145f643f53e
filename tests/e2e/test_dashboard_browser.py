"""The dashboard served by ``streamlit run`` works in a real headless Chromium (Playwright)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HOME = ROOT / "dashboards" / "Home.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 60
PAGE_TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with code {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"streamlit did not answer on {url} within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamlit run dashboards/Home.py`` on a free local port; stopped at teardown."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    pytest.importorskip(
        "streamlit", reason="the dashboard extra is not installed (pip install deepseek-apps[dashboard])"
    )
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [sys.executable, "-m", "streamlit", "run", str(HOME), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_inspector_page_shows_results_in_chromium(dashboard_url: str, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    shot = tmp_path / "inspector.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 2400},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(f"{dashboard_url}/Quality_Inspector")
            page.get_by_role("button", name="Use generated samples").click()

            expect(page.get_by_role("heading", name="Results")).to_be_visible()
            verdicts = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text=re.compile(r"\b(OK|NG)\b"))
            expect(verdicts.first).to_be_visible()
            images = page.locator("img[src*='/media/']")
            expect(images.first).to_be_visible()
            page.wait_for_function(
                "() => [...document.querySelectorAll(\"img[src*='/media/']\")]"
                ".every(img => img.complete && img.naturalWidth > 0)"
            )
            assert images.count() == 6  # the default number of samples
            expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)

            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert shot.stat().st_size > 0
    if os.environ.get("DSA_SCREENSHOT_DIR"):
        target = Path(os.environ["DSA_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / shot.name)


def test_contract_page_highlights_a_sample_and_reports_a_bad_upload(dashboard_url: str, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    shot = tmp_path / "contracts.png"
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n garbage")
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 2400},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(f"{dashboard_url}/Contract_Parser")
            page.get_by_role("button", name="Analyse generated sample").click()

            # the first analysis loads the clause model (and exports it to ONNX on a fresh machine)
            expect(page.get_by_role("heading", name="Facts")).to_be_visible(timeout=180_000)
            expect(page.get_by_role("heading", name="Clauses")).to_be_visible()  # its table, or why it is empty
            expect(page.locator("mark[title^='party']").first).to_be_visible()
            expect(page.locator("mark[title^='governing law']").first).to_be_visible()
            expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
            expect(page.get_by_role("button", name="Download JSON")).to_be_visible()
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
            page.screenshot(path=str(shot), full_page=True)

            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(broken))
            expect(page.get_by_text(re.compile(r"error DSA-1303"))).to_be_visible()
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        finally:
            browser.close()

    assert shot.stat().st_size > 0
    if os.environ.get("DSA_SCREENSHOT_DIR"):
        target = Path(os.environ["DSA_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / shot.name)


def test_training_page_trains_a_small_model_and_shows_its_metrics(dashboard_url: str, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    shot = tmp_path / "train.png"
    out = tmp_path / "fraud_model"
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 2400},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(f"{dashboard_url}/Train")
            expect(page.get_by_role("heading", name="Train a model")).to_be_visible()
            for label in ("Data (folder or file)", "Output folder", "Epochs", "Seed"):
                expect(page.get_by_label(label, exact=True)).to_be_visible()
            train = page.get_by_role("button", name="Train", exact=True)
            expect(train).to_be_disabled()  # the inspector needs a data folder first

            page.get_by_role("combobox", name="Application").click()
            page.get_by_role("option", name="fraud · FraudDetector").click()
            expect(page.get_by_placeholder(re.compile("^annotated image folder"))).to_have_count(0)  # rerun done
            data = page.get_by_label("Data (folder or file)", exact=True)
            expect(data).to_have_value("synthetic:2000")
            data.fill("synthetic:400")
            data.press("Enter")
            page.get_by_label("Output folder", exact=True).fill(str(out))
            page.get_by_label("Output folder", exact=True).press("Enter")
            page.get_by_label("Epochs", exact=True).fill("1")
            page.get_by_label("Epochs", exact=True).press("Enter")
            expect(page.get_by_text("--data synthetic:400")).to_be_visible()
            expect(train).to_be_enabled()
            train.click()

            expect(page.get_by_role("heading", name="Result")).to_be_visible(timeout=240_000)
            expect(page.get_by_text("Model saved to")).to_be_visible()
            expect(page.get_by_text("FraudDetector.load(")).to_be_visible()
            expect(page.locator('[data-testid="stJson"]').get_by_text("threshold").first).to_be_visible()
            expect(page.get_by_role("link", name="Open the Fraud Detector page")).to_be_visible()
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert out.is_dir() and any(out.iterdir())
    if os.environ.get("DSA_SCREENSHOT_DIR"):
        target = Path(os.environ["DSA_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / shot.name)
