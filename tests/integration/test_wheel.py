"""The built wheel works on its own: installed in a fresh virtual environment, used from outside the checkout.

The fresh environment reuses this one's already-installed dependencies (torch, ...) through a
``.pth`` file, so nothing is downloaded; the package itself must come from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import textwrap
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("deepseek_apps", "dashboards", "pyproject.toml", "setup.py", "README.md")
APPS = ("inspector", "recommender", "fraud", "contracts")
START_TIMEOUT_S = 60


def _run(command: list, cwd: Path, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{command} exited with {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources (the checkout gets no build/ or egg-info)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src], cwd=src)
    (built,) = dist.glob("deepseek_apps-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; this venv's site-packages is on its path for the dependencies."""
    env = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", env], cwd=env)
    python = env / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", "--no-deps", wheel], cwd=env)
    # after the install, so that pip does not see this venv's (editable) deepseek-apps as already there
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=env).stdout.strip()
    )
    (site / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory outside the checkout, so nothing is imported from it."""
    return tmp_path_factory.mktemp("elsewhere")


def test_the_wheel_holds_the_package_dashboards_and_models_but_no_tests(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "deepseek_apps/dashboards/Home.py" in names and "deepseek_apps/dashboards/_train.py" in names
    pages = {name for name in names if name.startswith("deepseek_apps/dashboards/pages/")}
    assert {f"deepseek_apps/dashboards/pages/{p.name}" for p in (ROOT / "dashboards" / "pages").glob("*.py")} == pages
    assert "deepseek_apps/assets/models.json" in names
    registry = json.loads((ROOT / "deepseek_apps" / "assets" / "models.json").read_text())
    shipped = [entry for models in registry.values() for entry in models.values()]
    for entry in shipped:  # a file, or a folder with its files, and the model card
        path = f"deepseek_apps/assets/{entry['path']}"
        assert path in names or any(name.startswith(f"{path}/") for name in names), path
        assert f"deepseek_apps/assets/{entry['card']}" in names
    assert not [name for name in names if name.startswith("tests/") or "__pycache__" in name]


def test_the_extras_are_satisfied_by_this_environment_without_moving_torch(venv: Path, outside: Path):
    """Every requirement of every extra (torch and torchvision as ranges) holds for what is installed here."""
    script = """
        import importlib.metadata as md
        from packaging.requirements import Requirement
        dist = md.distribution("deepseek-apps")
        extras = dist.metadata.get_all("Provides-Extra")
        assert "edge" in extras and "dashboard" in extras, extras
        unmet = []
        for text in dist.requires:
            req = Requirement(text)
            if req.name == "deepseek-apps" or (req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras)):
                continue
            try:
                version = md.version(req.name)
            except md.PackageNotFoundError:
                version = None
            if version is None or not req.specifier.contains(version, prereleases=True):
                unmet.append(f"{text} (installed: {version})")
        pinned = [r for r in map(Requirement, dist.requires)
                  if r.name in ("torch", "torchvision") and any(s.operator in ("==", "===") for s in r.specifier)]
        assert not pinned, pinned  # ranges only: the Makefile's pin decides
        print("\\n".join(unmet))
    """
    proc = _run([venv / "bin" / "python", "-c", textwrap.dedent(script)], cwd=outside)
    assert proc.stdout.strip() == "", f"requirements not met here:\n{proc.stdout}"


def test_the_package_is_imported_from_the_wheel_and_the_edge_path_runs_without_torch(venv: Path, outside: Path):
    script = """
        import sys
        sys.modules["torch"] = sys.modules["torchvision"] = None  # as on a device without PyTorch: import fails
        from PIL import Image
        import deepseek_apps
        from deepseek_apps.core.registry import get_model
        from deepseek_apps.core.runtime.edge import EdgeRuntime

        (result,) = EdgeRuntime(get_model("inspector").path).predict([Image.new("L", (200, 200), 128)])
        assert result.to_dict() is not None
        print(deepseek_apps.__file__)
    """
    proc = _run([venv / "bin" / "python", "-c", textwrap.dedent(script)], cwd=outside)
    assert Path(proc.stdout.strip()).is_relative_to(venv), proc.stdout


def test_each_application_runs_its_shipped_model(venv: Path, outside: Path):
    script = """
        import numpy as np
        from deepseek_apps import DINRecommender, FraudDetector, QualityInspector, generate_transactions
        from deepseek_apps.datasets.synthetic import generate_samples

        (inspection,) = QualityInspector().predict([generate_samples(1, seed=0)[0].image])
        assert inspection.error is None and inspection.verdict in ("OK", "NG"), inspection
        assert len(DINRecommender().recommend(user_id=0, k=3)) == 3
        new = generate_transactions(20, seed=7)
        new.ids = np.array([f"new{i}" for i in range(20)], dtype=object)  # not in the shipped model's history
        new.time = new.time + 90 * 86400
        scores = FraudDetector().score(new)
        assert len(scores) == 20 and all(0.0 <= s.score <= 1.0 for s in scores)
        print("ok")
    """
    proc = _run([venv / "bin" / "python", "-c", textwrap.dedent(script)], cwd=outside)
    assert proc.stdout.strip().endswith("ok")


def test_the_command_and_each_application_help(venv: Path, outside: Path):
    cli = venv / "bin" / "deepseek-apps"
    assert "dashboard" in _run([cli, "--help"], cwd=outside).stdout
    for app in APPS:
        assert "train" in _run([cli, app, "--help"], cwd=outside).stdout, app
    models = json.loads(_run([cli, "models", "--json"], cwd=outside).stdout)
    assert {m["app"] for m in models} >= set(APPS)
    assert all(Path(m["path"]).is_relative_to(venv) and Path(m["path"]).exists() for m in models), models


def test_the_dashboard_starts_from_the_installed_package(venv: Path, outside: Path):
    pytest.importorskip("streamlit", reason="the dashboard extra is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = outside / "dashboard.log"
    with log.open("wb") as out:  # its own session: streamlit runs as a child of the command
        server = subprocess.Popen(
            [venv / "bin" / "deepseek-apps", "dashboard", "--port", str(port)],
            cwd=outside,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, f"the dashboard exited:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.status == 200 and response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        if Path("/proc").is_dir():  # the page served is the wheel's Home.py
            home = venv.joinpath("lib").glob("python*/site-packages/deepseek_apps/dashboards/Home.py")
            assert any(str(path) in _child_commands(server.pid) for path in home), _child_commands(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _child_commands(pid: int) -> str:
    """The command lines of ``pid``'s children, from /proc."""
    commands = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                commands.append(stat.with_name("cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return "\n".join(commands)


def test_the_dashboard_command_says_what_is_missing_without_its_files(tmp_path: Path, monkeypatch):
    import argparse

    from deepseek_apps import cli
    from deepseek_apps.errors import ErrorCode, MissingResourceError

    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "deepseek_apps" / "cli.py"))
    with pytest.raises(MissingResourceError) as info:
        cli._dashboard(argparse.Namespace(port=0, address="127.0.0.1"))
    assert info.value.code == ErrorCode.FILE_NOT_FOUND and "Home.py" in str(info.value)
