"""The command line imports only the command it runs (start-up time), and still lists every command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pose_appliance import cli

CHECK = """
import sys
from pose_appliance.cli import build_parser
build_parser(sys.argv[1:]).parse_args(sys.argv[1:])
print(" ".join(sorted(m for m in sys.modules if m.startswith("pose_appliance.commands.") or m in {
    "importlib.metadata", "tensorflow", "pose_appliance.training", "pose_appliance.doctor"})))
"""


def imported_for(*argv: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", CHECK, *argv], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_run_imports_only_its_own_command_module():
    assert imported_for("run", "--frames", "3") == {"pose_appliance.commands.run"}


def test_help_still_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in cli.COMMANDS)


def test_version_is_looked_up_when_asked(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip()[:1].isdigit()
