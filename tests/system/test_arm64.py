"""arm64 under qemu-user emulation: a Pi's Bookworm userland (apt's numpy, the aarch64 wheels of LiteRT and
OpenCV, installed as the installer does) gives the same keypoints as x86 on the golden video and the truth
images.

The video is compared on its frames stored losslessly as PNG (decoded once, on x86): the x86 and aarch64 OpenCV
wheels decode the same H.264 file a level or two apart, which crop tracking would magnify into tens of pixels.
LiteRT probes the CPU through /proc/cpuinfo, which qemu-user leaves showing the host's x86 text: a Raspberry
Pi 4's cpuinfo is bind-mounted over it and QEMU_CPU names the Pi 4's core (cortex-a72). The golden video runs
through `pose-appliance run` from PNG frames (crop tracking and smoothing included), the truth images through
`pose-appliance estimate`. The x86 side runs the same Bookworm stack (its rootfs, the same pins), so only the CPU
differs: a newer OpenCV on the host would show a version difference, not an architecture one.
"""

from __future__ import annotations

import json
import shutil
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


class Machine:
    """``pose-appliance`` of one stack in its rootfs, reading the same frames and writing to its own models dir."""

    def __init__(self, stack_name: str, work: Path, shared: Path, frames: Path):
        self.spec = STACKS[stack_name]
        self.root = unpack(self.spec.rootfs, work / "root")
        src = project_copy(REPO, work / "src")
        cpuinfo = work / "cpuinfo"
        cpuinfo.write_text(PI4_CPUINFO)
        self.models = work / "models"
        self.models.mkdir()
        # nspawn cannot bind over a file of the /proc it mounts: the command mounts it itself (see run()).
        extra = [(str(cpuinfo), PI_CPUINFO, False), (str(frames), FRAMES, False), (str(self.models), MODELS, True)]
        venv = prepare_venv(self.spec, self.root, src, shared, work / "log.txt", extra)
        self.mounts = [*binds(self.spec, src, shared, venv), *extra]
        self.machine = run_in(self.root, ["uname", "-m"], self.mounts).stdout.strip()
        self.run("models", "fetch", "--mirror", f"{SHARED}/models", "--mirror", f"{SHARED}/data")

    def run(self, *args: str, timeout: float = 1800) -> str:
        cpuinfo = f"mount --bind {PI_CPUINFO} /proc/cpuinfo && " if self.spec.arch_env else ""
        command = ["sh", "-c", f'{cpuinfo}exec "$@"', "sh", f"{VENV}/bin/pose-appliance", *args]
        result = run_in(self.root, command, self.mounts,
                        {**dict(self.spec.arch_env), "POSE_APPLIANCE_MODELS": MODELS}, timeout=timeout)
        assert result.returncode == 0, f"{self.machine} pose-appliance {args} failed:\n{result.stdout[-4000:]}"
        return result.stdout


@pytest.fixture(scope="module")
def machines(shared):
    """arm64 (emulated) and x86-64 with the same package versions (the Bookworm stack): only the CPU differs."""
    work = scratch("arm64")
    try:
        frames = lossless_frames(shared / GOLDEN_VIDEO, work / "frames")
        arm = Machine("arm64", work / "arm64", shared, frames)
        assert arm.machine == "aarch64", arm.machine
        native = Machine("bookworm-stack", work / "x86", shared, frames)
        assert native.machine == "x86_64", native.machine
        yield arm, native
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


def keypoints_by_frame(jsonl: str) -> dict[int, np.ndarray]:
    records = [json.loads(line) for line in jsonl.splitlines() if line.strip()]
    return {r["frame"]: np.array(r["keypoints"], dtype=float) for r in records if r["keypoints"] is not None}


def max_pixel_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys() and a, (sorted(a)[:5], sorted(b)[:5])
    return max(float(np.abs(a[k][:, :2] - b[k][:, :2]).max()) for k in a)


def test_golden_video_keypoints_match_x86(machines):
    arm, native = machines
    command = ("run", "--source", FRAMES, "--display", "null", "--record-keypoints", f"{MODELS}/keypoints.jsonl")
    arm.run(*command)
    native.run(*command)
    ours = keypoints_by_frame((arm.models / "keypoints.jsonl").read_text())
    theirs = keypoints_by_frame((native.models / "keypoints.jsonl").read_text())
    difference = max_pixel_difference(ours, theirs)
    note("arm64", f"vs x86 (same Bookworm stack), golden video ({len(ours)} frames, lossless PNG): "
                  f"max keypoint difference {difference:.2f} px")
    assert difference <= TOLERANCE_PX


def test_truth_images_keypoints_match_x86(machines):
    arm, native = machines
    command = ("estimate", *(f"{SHARED}/{p}" for p in TRUTH_IMAGES), "--json")
    ours = [json.loads(line) for line in arm.run(*command).splitlines() if line.startswith("{")]
    theirs = [json.loads(line) for line in native.run(*command).splitlines() if line.startswith("{")]
    assert len(ours) == len(theirs) == len(TRUTH_IMAGES)
    difference = max(float(np.abs(np.array(a["keypoints"], float)[:, :2] - np.array(b["keypoints"], float)[:, :2]
                                  ).max()) for a, b in zip(ours, theirs))
    note("arm64", f"vs x86 (same Bookworm stack), truth images: max keypoint difference {difference:.2f} px")
    assert difference <= TOLERANCE_PX
