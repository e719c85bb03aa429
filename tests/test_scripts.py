"""scripts/pa: the venv's pose-appliance for a shell that does not have it on PATH (the README's commands)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pa(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "POSE_APPLIANCE_VENV": sys.prefix}  # the venv running these tests
    return subprocess.run([str(REPO / "scripts/pa"), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120, check=False)


def test_pa_runs_the_venvs_command_from_any_folder(tmp_path):
    (tmp_path / "config.toml").write_text('[display]\ntype = "null"\n[classifier]\nenabled = false\n')
    run = pa("check-config", "config.toml", cwd=tmp_path)  # a path relative to where the user is
    assert run.stdout.startswith("config.toml: ok (camera video"), run.stderr
    version = pa("--version", cwd=tmp_path)

    from importlib.metadata import version as installed

    assert version.returncode == 0 and version.stdout.strip() == installed("pose-appliance")


def test_the_demo_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: apt-get install shellcheck (scripts/test installs it)"
    result = subprocess.run([shellcheck, "--external-sources", "--severity=style", "pa", "demo",
                             "evaluate-labels", "compare-tf-sample"],
                            capture_output=True, text=True, cwd=REPO / "scripts", check=False)
    assert result.returncode == 0, result.stdout


def test_compare_tf_sample_floor_decodes_resizes_and_invokes_every_frame(lightning_int8, shared):
    """The floor process of scripts/compare-tf-sample runs the real model on the real video's frames."""
    job = {"frames": 12, "video": str(shared / "data" / "tfjs_pose_detection" / "pose_1.mp4"),
           "model": str(lightning_int8)}
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "compare_tf_sample.py"), "--floor-worker",
                             json.dumps(job)], capture_output=True, text=True, cwd=REPO / "scripts", check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"frames": 12}
    job["video"] = str(shared / "data" / "MANIFEST.md")  # not a video: no frame, and no hang
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "compare_tf_sample.py"), "--floor-worker",
                             json.dumps(job)], capture_output=True, text=True, cwd=REPO / "scripts", check=False,
                            timeout=60)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"frames": 0}


def test_compare_tf_sample_times_the_invokes_of_the_floor_and_of_the_real_run_command(lightning_int8, shared,
                                                                                      models_dir):
    """Its timeline rounds: each invoke of the floor and of `pose-appliance run` is noted, in ms after spawn."""
    video = str(shared / "data" / "tfjs_pose_detection" / "pose_1.mp4")
    workers = {"floor": ["--floor-worker", json.dumps({"frames": 12, "video": video, "model": str(lightning_int8)})],
               "appliance": ["--appliance-timeline-worker", "run", "--source", video, "--display", "null",
                             "--frames", "12", "--models-dir", str(models_dir), "--log-level", "warning"]}
    for side, argv in workers.items():
        spawned = time.perf_counter()
        result = subprocess.run([sys.executable, str(REPO / "scripts" / "compare_tf_sample.py"), *argv],
                                capture_output=True, text=True, cwd=REPO / "scripts", check=False, timeout=120,
                                env={**os.environ, "COMPARE_SPAWNED_AT": repr(spawned)})
        ended = (time.perf_counter() - spawned) * 1000
        assert result.returncode == 0, result.stderr
        timeline = json.loads(result.stdout.strip().splitlines()[-1])
        assert timeline["frames"] == 12, (side, timeline)
        assert 0 < timeline["first_invoke_ms"] < timeline["last_invoke_end_ms"] < ended, (side, timeline)
        spread = timeline["last_invoke_end_ms"] - timeline["first_invoke_ms"]
        assert 0 < timeline["invoke_sum_ms"] <= spread, (side, timeline)
