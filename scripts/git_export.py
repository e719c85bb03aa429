"""Export folders of a git repository's HEAD to a scratch folder (``git archive | tar -x``), for the scripts that
measure against other people's code and data without keeping any of it."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


def git_dir_of(path: Path) -> Path:
    """The git directory of a clone (``path/.git``) or a bare clone (``path`` itself)."""
    return path / ".git" if (path / ".git").exists() else path


def export_head(git_dir: Path, folders: Sequence[str], into: Path) -> None:
    """Write ``folders`` as of HEAD under ``into``; ``ValueError`` with git's message when git cannot."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "HEAD", *folders],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise ValueError(f"git archive of {', '.join(folders)} from {git_dir} failed: "
                         f"{archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
