"""verify.py finds the newest Terraform >= 1.5 wherever it is, and CI fails without one."""

import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import verify  # noqa: E402


def fake_terraform(directory: Path, version: str) -> Path:
    """A stand-in `terraform` that answers `terraform version -json` with the given version."""
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / "terraform"
    binary.write_text(f'#!/bin/sh\necho \'{{"terraform_version": "{version}"}}\'\n')
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def test_the_newest_modern_one_wins_over_the_first_on_path(tmp_path):
    old = fake_terraform(tmp_path / "a", "1.0.3")
    newer = fake_terraform(tmp_path / "b", "1.9.8")
    known = fake_terraform(tmp_path / "c", "1.11.4")
    env = {"PATH": os.pathsep.join([str(old.parent), str(newer.parent)])}
    assert verify.find_modern(env, known=(str(known),)) == (str(known), (1, 11, 4))
    assert verify.find_modern(env, known=()) == (str(newer), (1, 9, 8))


def test_the_environment_variable_is_asked_first(tmp_path):
    chosen = fake_terraform(tmp_path / "x", "1.5.0")
    env = {"DRGEN_TERRAFORM_MODERN": str(chosen), "PATH": ""}
    assert verify.candidates(env, known=())[0] == str(chosen)
    assert verify.find_modern(env, known=()) == (str(chosen), (1, 5, 0))


def test_only_old_ones_is_none_and_ci_fails(tmp_path):
    old = fake_terraform(tmp_path / "a", "1.4.7")
    env = {"PATH": str(old.parent)}
    assert verify.find_modern(env, known=()) is None
    verify.require_modern(None, {"CI": "false"})
    with pytest.raises(verify.Failure, match="CI requires one"):
        verify.require_modern(None, {"CI": "true"})
    verify.require_modern((str(old), (1, 11, 4)), {"CI": "true"})
