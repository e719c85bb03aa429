"""arm64 under qemu-user emulation: a Pi's Bookworm userland (apt's numpy, the aarch64 wheels of LiteRT and
OpenCV, installed as the installer does) gives the same keypoints as x86 on the golden video and the truth
images.

The video is compared on its frames stored losslessly as PNG (decoded once, on x86): the x86 and aarch64 OpenCV
wheels decode the same H.264 file a level or two apart, which crop tracking would magnify into tens of pixels.
LiteRT probes the CPU through /proc/cpuinfo, which qemu-user leaves showing the host's x86 text: a Raspberry
Pi 4's cpuinfo is bind-mounted over it and QEMU_CPU names the Pi 4's core (cortex-a72). The golden video runs
through `pose-appliance run` from PNG frames (crop tracking and smoothing included), the truth images through
`pose-appliance estimate`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from .machinery import PI4_CPUINFO, note, project_copy, run_in, scratch, unpack
from .stacks import SHARED, STACKS, VENV, binds, prepare_venv

pytestmark = pytest.mark.environment("arm64")

REPO = Path(__file__).resolve().parents[2]
GOLDEN_VIDEO = "data/tfjs_pose_detection/pose_1.mp4"
TRUTH_IMAGES = ["data/tf_examples_rpi_pose/image1.png", "data/tf_examples_rpi_pose/image2.jpeg",
                "data/tf_examples_rpi_pose/image3.jpeg"]
FRAMES = "/srv/frames"
MODELS = "/srv/models"
PI_CPUINFO = "/etc/pi4-cpuinfo"
TOLERANCE_PX = 2.0


@pytest.fixture(scope="module")
def arm64(shared):
    spec = STACKS["arm64"]
    work = scratch("arm64")
    try:
        root = unpack(spec.rootfs, work / "root")
        src = project_copy(REPO, work / "src")
        cpuinfo = work / "cpuinfo"
        cpuinfo.write_text(PI4_CPUINFO)
        frames = lossless_frames(shared / GOLDEN_VIDEO, work / "frames")
        models = work / "models"
        models.mkdir()
        # nspawn cannot bind over a file of the /proc it mounts: the command mounts it itself (see run()).
        extra = [(str(cpuinfo), PI_CPUINFO, False), (str(frames), FRAMES, False), (str(models), MODELS, True)]
        logfile = work / "log.txt"
        venv = prepare_venv(spec, root, src, shared, logfile, extra)
        mounts = [*binds(spec, src, shared, venv), *extra]

        def run(*args: str, timeout: float = 1800) -> str:
            command = ["sh", "-c", f'mount --bind {PI_CPUINFO} /proc/cpuinfo && exec "$@"', "sh",
                       f"{VENV}/bin/pose-appliance", *args]
            result = run_in(root, command, mounts,
                            {**dict(spec.arch_env), "POSE_APPLIANCE_MODELS": MODELS}, timeout=timeout)
            assert result.returncode == 0, f"arm64 pose-appliance {args} failed:\n{result.stdout[-4000:]}"
            return result.stdout

        machine = run_in(root, ["uname", "-m"], mounts).stdout.strip()
        assert machine == "aarch64", machine
        run("models", "fetch", "--mirror", f"{SHARED}/models", "--mirror", f"{SHARED}/data")
        yield run, frames, work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def lossless_frames(video: Path, folder: Path) -> Path:
    """Every frame of the video as a PNG, decoded here (x86), so both architectures read identical pixels."""
    folder.mkdir(parents=True)
    capture = cv2.VideoCapture(str(video))
    count = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        cv2.imwrite(str(folder / f"frame{count:04d}.png"), bgr)
        count += 1
    capture.release()
    assert count > 0, f"cannot decode {video}"
    return folder


def x86(*args: str, models: Path, shared: Path) -> str:
    """The same command on this machine (x86-64), with the models fetched from the same mirror."""
    if not (models / "movenet_lightning_int8.tflite").exists() and not any(models.glob("*.tflite")):
        subprocess.run([sys.executable, "-m", "pose_appliance", "models", "fetch", "--models-dir", str(models),
                        "--mirror", str(shared / "models"), "--mirror", str(shared / "data")],
                       check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "pose_appliance", *args], capture_output=True, text=True,
                            check=False,
                            env={**os.environ, "POSE_APPLIANCE_MODELS": str(models)}, timeout=900)
    assert result.returncode == 0, f"x86 pose-appliance {args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def keypoints_by_frame(jsonl: str) -> dict[int, np.ndarray]:
    records = [json.loads(line) for line in jsonl.splitlines() if line.strip()]
    return {r["frame"]: np.array(r["keypoints"], dtype=float) for r in records if r["keypoints"] is not None}


def max_pixel_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys() and a, (sorted(a)[:5], sorted(b)[:5])
    return max(float(np.abs(a[k][:, :2] - b[k][:, :2]).max()) for k in a)


def test_golden_video_keypoints_match_x86(arm64, shared):
    run, frames, work = arm64
    command = ["run", "--source", "{frames}", "--display", "null", "--record-keypoints", "{out}"]
    run(*[a.format(frames=FRAMES, out=f"{MODELS}/arm64.jsonl") for a in command])
    x86(*[a.format(frames=frames, out=work / "x86.jsonl") for a in command], models=work / "x86-models",
        shared=shared)
    arm = keypoints_by_frame((work / "models" / "arm64.jsonl").read_text())
    native = keypoints_by_frame((work / "x86.jsonl").read_text())
    difference = max_pixel_difference(arm, native)
    note("arm64", f"vs x86, golden video ({len(arm)} frames, lossless PNG): "
                  f"max keypoint difference {difference:.2f} px")
    assert difference <= TOLERANCE_PX


def test_truth_images_keypoints_match_x86(arm64, shared):
    run, _, work = arm64
    arm = [json.loads(line) for line in run("estimate", *(f"{SHARED}/{p}" for p in TRUTH_IMAGES), "--json"
                                            ).splitlines() if line.startswith("{")]
    native = [json.loads(line) for line in x86("estimate", *(str(shared / p) for p in TRUTH_IMAGES), "--json",
                                               models=work / "x86-models", shared=shared).splitlines()
              if line.startswith("{")]
    assert len(arm) == len(native) == len(TRUTH_IMAGES)
    difference = max(float(np.abs(np.array(a["keypoints"], float)[:, :2] - np.array(b["keypoints"], float)[:, :2]
                                  ).max()) for a, b in zip(arm, native))
    note("arm64", f"vs x86, truth images: max keypoint difference {difference:.2f} px")
    assert difference <= TOLERANCE_PX
