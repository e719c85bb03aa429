"""Shared fixtures and helpers: the read-only ../shared folder of real models and data, a fetched models dir, and
the real overlaid frame the render and display tests draw (``result``, ``keypoint_xy``, ``save_screenshot``)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from pose_appliance.cli import main
from pose_appliance.piece_file import free_path
from pose_appliance.types import KEYPOINT_INDEX, KEYPOINT_NAMES, Frame, FrameResult, LabelDecision, Pose

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POSE_APPLIANCE_SHARED", REPO.parent / "shared")).resolve()

# Hypothesis keeps its example database and a cache of the code's constants in ./.hypothesis; tests never write
# into the checkout, so it goes to the temp dir (read lazily, at the first @given test).
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                      os.path.join(tempfile.gettempdir(), f"pose-appliance-hypothesis-{os.getuid()}"))


def pytest_sessionstart(session):
    if not (SHARED / "models" / "MANIFEST.md").is_file():
        raise pytest.UsageError(
            f"{SHARED} is missing: the tests run on the real models and data of ../shared "
            "(set POSE_APPLIANCE_SHARED to its path)")


@pytest.fixture(autouse=True)
def restore_root_logger():
    """A test that runs the CLI in-process gets `setup_logging`'s handler on the stderr pytest captured for that
    test; left in place it would write into a closed stream in every later test."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def lightning_int8(shared) -> Path:
    return shared / "models/movenet/lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite"


@pytest.fixture(scope="session")
def yoga_classifier(shared) -> Path:
    return shared / "models/classifier/yoga_classifier.tflite"


@pytest.fixture(scope="session")
def yoga_labels(shared) -> Path:
    return shared / "models/classifier/yoga_labels.txt"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory, shared) -> Path:
    """A models dir filled by the product's own fetch step from the ../shared mirror (what is available)."""
    from pose_appliance import modelstore

    dest = tmp_path_factory.mktemp("models")
    names = ["movenet_lightning_int8", "movenet_lightning_int8_edgetpu", "yoga_classifier", "yoga_labels",
             "yoga_train_keypoints",
             "demo_video"]
    modelstore.fetch(names, dest, mirrors=[shared / "models", shared / "data"])
    return dest


# ------------------------------------------------------------------------------ a real frame with its overlay
CLIP_FRAME = 60
KEYPOINT_SCORE = 0.9


def real_result(shared: Path, index: int = CLIP_FRAME, *, fps: float = 29.7) -> FrameResult:
    """Frame ``index`` of pose_1.mp4 (576x576, Apache-2.0) with pose_1.json's keypoints and a real label."""
    import cv2

    capture = cv2.VideoCapture(str(shared / "data/tfjs_pose_detection/pose_1.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = capture.read()
    capture.release()
    assert ok, "cannot read the test clip"
    golden = json.loads((shared / "data/tfjs_pose_detection/pose_1.json").read_text())[index]
    keypoints = np.array([[golden[n]["x"], golden[n]["y"], KEYPOINT_SCORE] for n in KEYPOINT_NAMES], np.float32)
    pose = Pose(keypoints=keypoints)
    return FrameResult(frame=Frame(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index=index, timestamp=0.0),
                       pose=pose, decision=yoga_decision(shared, pose), fps=fps)


def yoga_decision(shared: Path, pose: Pose) -> LabelDecision:
    """The real classifier's top label for this pose (input: 17 x (y, x, score) in pixels)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(shared / "models/classifier/yoga_classifier.tflite"))
    interpreter.allocate_tensors()
    features = pose.keypoints[:, [1, 0, 2]].reshape(1, 51).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], features)
    interpreter.invoke()
    scores = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
    labels = (shared / "models/classifier/yoga_labels.txt").read_text().split()
    best = int(np.argmax(scores))
    return LabelDecision(label=labels[best], score=float(scores[best]))


def keypoint_xy(result: FrameResult, name: str, *, scale: float = 1.0, offset=(0, 0)) -> tuple[int, int]:
    x, y = result.pose.keypoints[KEYPOINT_INDEX[name], :2] * scale + offset
    return int(round(x)), int(round(y))


@pytest.fixture(scope="module")
def result(shared) -> FrameResult:
    return real_result(shared)


# Tests never write into the repository: the screenshots for docs/screenshots are written only where asked,
# e.g. `POSE_APPLIANCE_SCREENSHOTS=docs/screenshots pytest tests/test_display_*.py` to refresh the docs.
SCREENSHOTS_ENV = "POSE_APPLIANCE_SCREENSHOTS"
SCREENSHOT_MAX_BYTES = 150_000


def save_screenshot(rgb: np.ndarray, target: str) -> Path | None:
    """<target>.png, at most 480 px a side and 150 KB (colours quantized a little), into $POSE_APPLIANCE_SCREENSHOTS
    when set; otherwise only checked. Returns the path written, or None."""
    import cv2

    h, w = rgb.shape[:2]
    factor = min(1.0, 480 / max(h, w))
    if factor < 1:
        rgb = cv2.resize(rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb & 0xF8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok and len(data) < SCREENSHOT_MAX_BYTES, f"{target}.png would be {len(data)} bytes"
    folder = os.environ.get(SCREENSHOTS_ENV)
    if not folder:
        return None
    path = Path(folder) / f"{target}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())
    return path


# ------------------------------------------------------------- helpers several test modules share
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def chromium(tmp_path, url, *args) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "headless Chromium is needed for this test: apt-get install -y chromium"
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", *args, url],
                          capture_output=True, text=True, timeout=90, cwd=tmp_path)


def run_records(tmp_path: Path, models_dir: Path, source: Path, *extra: str) -> list[dict]:
    out = free_path(tmp_path / f"{source.stem}.jsonl")  # a fresh file each call: earlier records are kept
    assert main(["run", "--models-dir", str(models_dir), "--source", str(source), "--display", "null",
                 "--record-keypoints", str(out), *extra]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def wait_for(condition, timeout: float = 30.0, *, poll: float = 0.02) -> bool:
    """Whether ``condition()`` came true within ``timeout`` s, asked every ``poll`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return False


def looping_records(tmp_path: Path, models_dir: Path, video: Path, frames: int, *,
                    exercise: str = "none") -> list[dict]:
    """The keypoint records of ``frames`` frames of ``video`` played unpaced and looping through a Pipeline with
    the default stages, the null display and repetitions of ``exercise`` counted."""
    from pose_appliance.activity import ActivityTracker
    from pose_appliance.app import build_stages
    from pose_appliance.camera import VideoFileSource
    from pose_appliance.config import Config, CountingConfig, replace
    from pose_appliance.display import NullDisplay
    from pose_appliance.pipeline import KeypointRecorder, Pipeline

    stages = build_stages(replace(Config(), "service.models_dir", str(models_dir)))
    source = VideoFileSource(video, loop=True)
    source.start()
    recorder = KeypointRecorder(tmp_path / "keypoints.jsonl")
    try:
        pipeline = Pipeline(source, stages, NullDisplay(), recorder=recorder, max_frames=frames,
                            activity=ActivityTracker(CountingConfig(exercise=exercise)))
        pipeline.start()
        assert pipeline.finished.wait(60.0)
        pipeline.stop()
    finally:
        recorder.close()
        source.stop()
        stages.estimator.close()
    return [json.loads(line) for line in recorder.path.read_text().splitlines()]


def single_person_coco(shared: Path) -> list[Path]:
    with (shared / "data/coco_mini/index.csv").open(newline="") as handle:
        return [shared / "data/coco_mini" / row["path"] for row in csv.DictReader(handle)
                if row["single_person_eval"] == "1"]


def single_person_coco_folder(tmp_path: Path, shared: Path) -> Path:
    """The seven single-person COCO photos linked into one folder, for ``run --source``."""
    folder = tmp_path / "coco"
    folder.mkdir()
    for photo in single_person_coco(shared):
        (folder / photo.name).symlink_to(photo)
    return folder


def yoga_verdicts(records: list[dict]) -> tuple[int, list[tuple[str, str]]]:
    """(named right, [(file, label) named wrong]) for the records of a folder with one sub-folder per pose."""
    truth = [r["file"].split("/")[0] for r in records]
    right = sum(r["label"] == t for r, t in zip(records, truth))
    return right, [(r["file"], r["label"]) for r, t in zip(records, truth) if r["label"] not in (None, t)]
