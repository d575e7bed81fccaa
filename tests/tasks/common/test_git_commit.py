"""git_commit stamps the code's commit, and only code changes make it dirty."""
import subprocess
from pathlib import Path

from tasks.common.provenance import git_commit


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_results_changes_are_not_dirty_but_code_changes_are(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@t")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "init")
    sha = _git(tmp_path, "rev-parse", "HEAD")

    assert git_commit(tmp_path) == sha
    (tmp_path / "results" / "summary.json").unlink()
    assert git_commit(tmp_path) == sha
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == sha + "+dirty"


def test_outside_git_is_none(tmp_path):
    assert git_commit(tmp_path) is None
