"""What users install: the lock, the worker image's Beam, and a wheel that runs on its own."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import apache_beam

REPO = Path(__file__).resolve().parents[1]
#: What the wheel is built from: setup.py, the README it names and the four packages
#: (the Dockerfile copies the same).
SOURCES = ("setup.py", "README.md", "pipelines", "transforms", "models", "synth")


def locked_versions() -> dict[str, str]:
    """``{name: version}`` of every ``name==version`` line of requirements.lock."""
    text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    return {name.lower(): version
            for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", text, re.M)}


def test_the_worker_image_and_this_venv_run_the_locked_beam():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    image_beam = re.search(r"^ARG BEAM_VERSION=(\S+)$", dockerfile, re.M).group(1)
    locked = locked_versions()

    assert image_beam == locked["apache-beam"] == apache_beam.__version__
    assert "FROM apache/beam_python3.11_sdk:${BEAM_VERSION}" in dockerfile
    assert "-r requirements.lock" in dockerfile


def test_the_lock_pins_every_requirement_with_hashes():
    text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    pins = re.findall(r"^[A-Za-z0-9_.\-]+==\S+ \\\n(?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+",
                      text, re.M)
    requirement_lines = [line for line in text.splitlines()
                         if line and not line.startswith((" ", "#"))]
    assert len(pins) == len(requirement_lines) > 100
    for name in ("apache-beam", "tensorflow", "keras", "librosa", "konlpy", "pyarrow"):
        assert name in locked_versions()


def _build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(source)], check=True)
    (wheel,) = glob.glob(str(tmp_path / "dist" / "call_triage-*.whl"))
    return Path(wheel)


def _venv_with_wheel(tmp_path: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed; its dependencies come from this venv's
    site-packages (a path line, so this checkout's editable install is not seen)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True,
                             text=True).stdout.strip()
    Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True)
    return venv


def test_the_wheel_carries_the_model_and_runs_the_nightly_job_outside_the_checkout(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    bundled = sorted(os.path.relpath(path, REPO)
                     for path in glob.glob(str(REPO / "models" / "bundled" / "*" / "*")))
    assert set(bundled) <= set(names)
    data_files = sorted(os.path.relpath(path, REPO)
                        for path in glob.glob(str(REPO / "transforms" / "data" / "*")))
    assert "transforms/data/aihub_labels.toml" in data_files
    assert set(data_files) <= set(names)

    venv = _venv_with_wheel(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(REPO / "examples" / "archive", elsewhere / "archive")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import models; print(models.DEFAULT_BUNDLE)"],
        cwd=elsewhere, env=env, check=True, capture_output=True, text=True).stdout.strip()
    assert where.startswith(str(venv)) and os.path.isfile(os.path.join(where, "model.keras"))
    mapping = subprocess.run(
        [venv / "bin" / "python", "-c", "from transforms.aihub import LabelMapping; "
         "print(LabelMapping.load().names['disasterMedium']['화재'])"],
        cwd=elsewhere, env=env, check=True, capture_output=True, text=True).stdout.strip()
    assert mapping == "fire"

    done = subprocess.run(
        [venv / "bin" / "call-triage", "run", "--archive", "archive", "--out", "reports",
         "--run-date", "2026-12-01"],
        cwd=elsewhere, env=env, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr[-3000:]
    (summary_path,) = glob.glob(str(elsewhere / "reports" / "**" / "summary.json"),
                                recursive=True)
    summary = json.loads(Path(summary_path).read_text())
    assert summary["status"] == "complete"
    assert summary["model"]["bundle"] == where
    assert summary["counts"]["input"] == 40
    assert summary["counts"]["scored"] + summary["counts"]["errors"] == 40
