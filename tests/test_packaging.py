"""Packaging: the install prints no setuptools warnings and ships every data file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE_SUFFIXES = {".py", ".pyc", ".mo"}  # .mo files are build output, compiled per checkout


def test_build_is_quiet_and_ships_every_data_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "build",
         "--build-lib", str(tmp_path / "lib"), "--build-base", str(tmp_path / "build")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "would be ignored" not in output, output[:2000]
    assert "DeprecationWarning" not in output, output[:2000]

    package = ROOT / "subscribe"
    data_files = {
        path.relative_to(ROOT)
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in CODE_SUFFIXES and "__pycache__" not in path.parts
    }
    assert any(p.suffix == ".html" for p in data_files)  # the walk found the templates
    missing = sorted(str(p) for p in data_files if not (tmp_path / "lib" / p).is_file())
    assert missing == [], f"not shipped in the package: {missing}"
