"""The command line imports only the command it runs (start-up time), and still lists every command."""

from __future__ import annotations

import os
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


# What numpy, OpenCV and the runtime import themselves is theirs (numpy 1.24 imports secrets, for one): only
# what the appliance adds counts.
RUN_AND_LIST = """
import sys
import cv2, numpy
from pose_appliance.inference.runtime import import_runtime
import_runtime()
theirs = set(sys.modules)
from pose_appliance.cli import main
status = main(sys.argv[1:])
print(status, " ".join(sorted(m for m in set(sys.modules) - theirs if m in {
    "socket", "difflib", "json", "secrets", "csv", "tarfile",
    "pose_appliance.modelstore.fetch", "pose_appliance.training", "tensorflow",
    "pose_appliance.doctor", "pose_appliance.display.record_display"})))
"""


def test_a_run_outside_systemd_imports_only_what_it_needs(models_dir, shared):
    """Start-up time: "did you mean" hints (difflib), the notification socket (only with NOTIFY_SOCKET), JSON
    (only for recorded keypoints), the keypoint CSV reader (the pose reference comes from its cache), fetching,
    training and the display backends not chosen stay out of a run."""
    env = {name: value for name, value in os.environ.items() if name not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    out = subprocess.run([sys.executable, "-c", RUN_AND_LIST, "run", "--models-dir", str(models_dir), "--display",
                          "null", "--source", str(shared / "data/tfjs_pose_detection/pose_1.mp4"), "--frames", "3"],
                         capture_output=True, text=True, timeout=300, env=env, check=True).stdout
    assert out.splitlines()[-1].split() == ["0"]  # after the run's summary line


def test_help_still_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in cli.COMMANDS)
    description = listed.split("positional arguments")[0]
    assert "``" not in description and "MoveNet" in description  # words for a user, not the module's docstring


def test_version_is_looked_up_when_asked(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip()[:1].isdigit()


def test_the_console_script_leaves_with_everything_written_and_its_status(tmp_path, models_dir, shared):
    """`program` ends the process with os._exit after the command: the keypoint records, the recording and the
    summary line must all be complete by then, and the status must be the command's."""
    import json
    import os

    import cv2

    records, video = tmp_path / "records.jsonl", tmp_path / "overlay.mp4"
    # Buffered standard streams, as under systemd or a pipe (this machine sets PYTHONUNBUFFERED).
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-m", "pose_appliance", "run", "--models-dir", str(models_dir),
                           "--source", str(shared / "data/tfjs_pose_detection/pose_1.mp4"), "--frames", "12",
                           "--output", str(video), "--record-keypoints", str(records)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "12 frames in" in done.stdout + done.stderr
    assert [json.loads(line)["frame"] for line in records.read_text().splitlines()] == list(range(12))
    capture = cv2.VideoCapture(str(video))
    shown = 0
    while capture.read()[0]:
        shown += 1
    assert shown == 12

    missing = tmp_path / "missing.toml"
    refused = subprocess.run([sys.executable, "-m", "pose_appliance", "run", "--config", str(missing)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert str(missing) in refused.stderr


THREADS_AFTER_NUMPY = """
import os, sys
import pose_appliance.cli
import numpy
print(os.environ.get("OPENBLAS_NUM_THREADS"), len(os.listdir("/proc/self/task")))
"""


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("2", "2")])
def test_numpy_starts_no_blas_threads_under_the_command_line(given, expected):
    """numpy's OpenBLAS would start a spinning thread per core (docs/performance.md); a user's setting wins."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given:
        env["OPENBLAS_NUM_THREADS"] = given
    out = subprocess.run([sys.executable, "-c", THREADS_AFTER_NUMPY], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out[0] == expected
    if given is None:
        assert out[1] == "1"  # the main thread alone


def test_a_listing_whose_reader_went_away_ends_without_a_traceback(tmp_path):
    """`pose-appliance models list | head -1`: the reader closes the pipe early. Here it is closed before the
    first line, so every run meets it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        listing = subprocess.run([sys.executable, "-c", "from pose_appliance.cli import program; program()",
                                  "models", "list", "--models-dir", str(tmp_path)],
                                 stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert listing.stderr == "" and listing.returncode == 128 + 13
