"""The documented benchmark command runs scripts that exist, with options they accept (nothing is measured here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from run_all import COMMANDS  # noqa: E402


def test_docs_name_the_command_that_runs_them_all():
    assert "`python benchmarks/run_all.py`" in (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert (ROOT / "benchmarks" / "run_all.py").is_file()


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_each_benchmark_accepts_its_options(command):
    script, options = ROOT / "benchmarks" / command[0], [a for a in command[1:] if a.startswith("--")]
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for option in options:
        assert option in done.stdout, f"{command[0]} has no option {option}"


def test_dry_run_lists_every_command_and_measures_nothing():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--dry-run", "--no-long"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("$ ")]
    assert len(lines) == len(COMMANDS)
    assert not any("--long" in line for line in lines)
