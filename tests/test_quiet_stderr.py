"""What a user sees on the real stderr (fd 2 of a new process): our own lines, not the libraries' chatter."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

BANNER = "Created TensorFlow Lite XNNPACK delegate"


def pose_appliance(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pose_appliance", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, check=False)


def test_estimate_prints_no_runtime_banner(tmp_path, models_dir, shared):
    image = sorted((shared / "data/yoga_cg_subset/test/chair").glob("*.jpg"))[0]
    run = pose_appliance("estimate", str(image), "--json", "--models-dir", str(models_dir), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert '"keypoints"' in run.stdout
    assert BANNER not in run.stderr and BANNER not in run.stdout


def test_the_banner_filter_passes_every_other_native_line(tmp_path, lightning_int8):
    """Errors the runtime writes to fd 2 while an interpreter is built still reach the user, in order."""
    script = textwrap.dedent(f"""
        import os
        from ai_edge_litert.interpreter import Interpreter
        from pose_appliance.inference.runtime import quiet_runtime_banner
        with quiet_runtime_banner():
            os.write(2, b"ERROR: before\\n")
            Interpreter(model_path={str(lightning_int8)!r}, num_threads=1).allocate_tensors()
            os.write(2, b"ERROR: after\\n")
        os.write(2, b"done\\n")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "ERROR: before\nERROR: after\ndone\n"


def test_a_missing_webcam_is_our_one_error_without_opencv_warnings(tmp_path, models_dir):
    run = pose_appliance("run", "--models-dir", str(models_dir), "--source", "/dev/video63", "--frames", "1",
                         cwd=tmp_path)
    assert run.returncode == 2
    assert "[ WARN" not in run.stderr and "cap.cpp" not in run.stderr
    assert "camera.opencv.device: cannot open /dev/video63" in run.stderr


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                    reason="training needs TensorFlow (the train extra)")
def test_training_prints_progress_not_tensorflows_cpp_lines(tmp_path, shared):
    csvs = shared / "data/yoga_poses_csv"
    run = pose_appliance("train-classifier", str(csvs / "yoga_train_data.csv"), "--out", str(tmp_path / "model"),
                         "--epochs", "2", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "training:" in run.stderr  # our progress
    for chatter in ("oneDNN", "absl::InitializeLog", "port.cc", "I0000"):
        assert chatter not in run.stderr, run.stderr


def test_the_absl_pattern_drops_info_and_warnings_only():
    from pose_appliance.native_stderr import ABSL_INFO_OR_WARNING

    assert ABSL_INFO_OR_WARNING.match(b"I0000 00:00:1796098034.870346    9993 port.cc:153] oneDNN custom ops")
    assert ABSL_INFO_OR_WARNING.match(b"W1201 04:05:06.123456 42 cpu_feature_guard.cc:210] this CPU has AVX2")
    assert not ABSL_INFO_OR_WARNING.match(b"E0000 00:00:1796098034.870346    9993 op_kernel.cc:1] a real error")
    assert not ABSL_INFO_OR_WARNING.match(b"Traceback (most recent call last):")
