"""``huike plugin new`` writes a package whose own tests pass against a real Huike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from frontend_api.cli import main


def test_the_scaffolded_plugin_passes_its_own_tests(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plugin", "new", "visit_notes", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "huike-visit-notes"
    assert (root / "huike_visit_notes" / "migrations" / "visit_notes_0001_greetings.py").is_file()
    assert 'visit_notes = "huike_visit_notes.plugin"' in (root / "pyproject.toml").read_text()
    # Its own test run, in a process of its own (its tables must not join this suite's schema).
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_a_bad_name_or_an_existing_folder_is_refused(tmp_path: Path) -> None:
    bad = CliRunner().invoke(main, ["plugin", "new", "Hello-World", "--directory", str(tmp_path)])
    assert bad.exit_code != 0
    assert "must match" in bad.output
    assert CliRunner().invoke(main, ["plugin", "new", "twice", "--directory", str(tmp_path)]).exit_code == 0
    again = CliRunner().invoke(main, ["plugin", "new", "twice", "--directory", str(tmp_path)])
    assert again.exit_code != 0
    assert "already exists" in again.output
