"""Editing the config file while the appliance runs: the switch happens between frames, or not at all."""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import conftest
import pytest

from pose_appliance.app import Appliance, Overrides


def base_config(video: Path, models_dir: Path, model_lines: str = "") -> str:
    return (f'[camera]\ntype = "video"\n[camera.video]\npath = "{video}"\nloop = true\nrealtime = true\n'
            f'[display]\ntype = "null"\n[service]\nmodels_dir = "{models_dir}"\n'
            f'[model]\nname = "movenet_lightning_int8"\n{model_lines}')


def records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


wait_for = functools.partial(conftest.wait_for, timeout=20.0, poll=0.05)


class NoEdgeTpu:
    """A delegate loader like the runtime's, on a machine with libedgetpu but no device plugged in."""

    def __init__(self):
        self.calls = []

    def __call__(self, library, options=None):
        self.calls.append((library, options))
        raise ValueError("Failed to load delegate from libedgetpu.so.1")


def run_with_edit(tmp_path, config_text: str, new_text: str, *, frames: int, load_delegate=None):
    """Run the appliance in this (main) thread; another thread rewrites the config after 30 frames."""
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    keypoints = tmp_path / "keypoints.jsonl"
    appliance = Appliance(config, Overrides([]), max_frames=frames, keypoints_path=keypoints,
                          load_delegate=load_delegate)
    edited = threading.Event()

    def editor():
        if wait_for(lambda: len(records(keypoints)) >= 30):
            config.write_text(new_text)
            edited.set()

    thread = threading.Thread(target=editor, daemon=True)
    thread.start()
    assert appliance.run() == 0
    thread.join(1)
    assert edited.is_set(), "the run ended before the config was edited"
    return records(keypoints), appliance


def assert_no_gap(recs: list[dict], limit: float = 1.0) -> None:
    times = [r["t"] for r in recs]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) < limit, f"longest gap between processed frames {max(gaps):.2f} s"


def test_switch_model_file_and_delegate_mid_run(tmp_path, models_dir, shared, caplog):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    other = tmp_path / "coral_cpu_lightning.tflite"
    shutil.copy(shared / "models/coral/movenet_single_pose_lightning_ptq.tflite", other)
    shutil.copy(shared / "models/coral/movenet_single_pose_lightning_ptq_edgetpu.tflite",
                tmp_path / "coral_cpu_lightning_edgetpu.tflite")
    loader = NoEdgeTpu()
    caplog.set_level(logging.INFO)
    recs, appliance = run_with_edit(
        tmp_path, base_config(video, models_dir),
        base_config(video, models_dir, f'path = "{other}"\ndelegate = "edgetpu"\n'),
        frames=150, load_delegate=loader)
    models = [r["model"] for r in recs]
    assert models[0] == "movenet_lightning_int8"
    switched = [i for i, m in enumerate(models) if "coral_cpu_lightning.tflite" in m]
    assert switched, "no frame was processed by the new model"
    first_new = switched[0]
    assert all("coral_cpu_lightning" in m for m in models[first_new:]), "frames went back to the old model"
    assert first_new >= 30 and len(recs) - first_new >= 10
    assert_no_gap(recs)
    # The Edge TPU was tried for the new config, failed, and the pipeline fell back to the CPU, saying why.
    assert loader.calls and loader.calls[-1][0] == "libedgetpu.so.1"
    assert all(r["delegate"] == "cpu" for r in recs)
    assert any("fallback" in m.lower() and "libedgetpu" in m for m in caplog.messages)
    assert appliance.config.model.path == str(other)


def test_the_previous_model_is_freed_after_a_model_reload(tmp_path, models_dir, shared, monkeypatch):
    """Only the pipeline holds the stages once it runs: the model a reload replaced (its interpreter, on a Pi
    perhaps its Edge TPU) is freed, not kept until the service stops."""
    import gc
    import weakref

    from pose_appliance import app

    built = []

    def build_stages(config, **kwargs):
        stages = app.build_stages.__wrapped__(config, **kwargs)
        built.append((weakref.ref(stages.estimator), weakref.ref(stages.estimator.model)))
        return stages

    build_stages.__wrapped__ = app.build_stages
    monkeypatch.setattr(app, "build_stages", build_stages)
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    config = tmp_path / "config.toml"
    config.write_text(base_config(video, models_dir))
    keypoints = tmp_path / "keypoints.jsonl"
    appliance = Appliance(config, Overrides([]), max_frames=100_000, keypoints_path=keypoints)
    first_alive_after_reload: list[bool] = []

    def editor():
        if wait_for(lambda: len(records(keypoints)) >= 30):
            config.write_text(base_config(video, models_dir, "threads = 2\n"))
            if wait_for(lambda: len(built) == 2 and appliance.pipeline.stages.estimator is built[1][0]()):
                processed = len(records(keypoints))
                wait_for(lambda: len(records(keypoints)) >= processed + 10)
                gc.collect()
                first_alive_after_reload.append(built[0][0]() is not None or built[0][1]() is not None)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=editor, daemon=True)
    thread.start()
    assert appliance.run() == 0
    thread.join(1)
    assert first_alive_after_reload == [False], "the first model is still held after the reload"


@pytest.mark.parametrize("bad_model_lines, words", [
    ('threads = "many"\n', "model.threads"),
    ('path = "{garbage}"\n', "garbage.tflite"),
])
def test_bad_config_mid_run_keeps_the_running_model(tmp_path, models_dir, shared, caplog, bad_model_lines, words):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"\0not a model" * 100)
    caplog.set_level(logging.INFO)
    recs, appliance = run_with_edit(
        tmp_path, base_config(video, models_dir),
        base_config(video, models_dir, bad_model_lines.format(garbage=garbage)), frames=90)
    assert {r["model"] for r in recs} == {"movenet_lightning_int8"}
    assert len(recs) == 90
    assert_no_gap(recs)
    rejected = [m for m in caplog.messages if "rejected" in m]
    assert rejected and words in rejected[0]
    assert appliance.config.model.path == ""


def test_a_reload_applies_the_new_log_level(tmp_path, models_dir, shared, caplog):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    caplog.set_level(logging.INFO)
    text = base_config(video, models_dir)
    try:
        run_with_edit(tmp_path, text, text.replace("[service]\n", '[service]\nlog_level = "warning"\n'), frames=150)
        assert root.level == logging.WARNING
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
    assert "log level warning" in caplog.messages


def test_camera_and_display_changes_restart_only_those(tmp_path, models_dir, shared):
    """A new frame size restarts the camera alone; a new display target opens beside the running pipeline."""
    import cv2

    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    recording = tmp_path / "after.mp4"
    new_text = base_config(video, models_dir).replace(
        '[camera]\ntype = "video"\n', '[camera]\ntype = "video"\nwidth = 320\nheight = 320\n').replace(
        '[display]\ntype = "null"\n', f'[display]\ntype = "record"\n[display.record]\npath = "{recording}"\n')
    recs, appliance = run_with_edit(tmp_path, base_config(video, models_dir), new_text, frames=120)
    estimator_models = {r["model"] for r in recs}
    assert estimator_models == {"movenet_lightning_int8"}
    biggest = [max(max(k[0], k[1]) for k in r["keypoints"]) for r in recs if r["keypoints"]]
    assert max(biggest[:30]) > 320, "frames before the edit are 576x576"
    assert max(biggest[-20:]) <= 320, "frames after the edit are 320x320"
    assert_no_gap(recs)
    capture = cv2.VideoCapture(str(recording))
    ok, image = capture.read()
    assert ok and image.shape == (320, 320, 3)
    assert 10 <= int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) <= 90
    assert appliance.config.display.type == "record"


def test_a_camera_that_fails_to_restart_is_replaced_by_the_old_one(tmp_path, models_dir, shared, caplog):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    caplog.set_level(logging.INFO)
    broken = base_config(video, models_dir).replace(f'path = "{video}"', f'path = "{tmp_path / "gone.mp4"}"')
    recs, appliance = run_with_edit(tmp_path, base_config(video, models_dir), broken, frames=90)
    assert len(recs) == 90
    assert_no_gap(recs)
    rejected = [m for m in caplog.messages if "rejected" in m]
    assert rejected and "gone.mp4" in rejected[0]
    assert appliance.config.camera.video.path == str(video)


def test_a_camera_that_neither_restarts_nor_comes_back_ends_the_run_as_failed(tmp_path, models_dir, shared,
                                                                               caplog):
    """The video was renamed and the new name has a typo: no camera runs any more. The run ends with the
    frame source's failure (systemd restarts the service) instead of waiting for frames for ever."""
    video = tmp_path / "a.mp4"
    shutil.copy(shared / "data/tfjs_pose_detection/pose_1.mp4", video)
    caplog.set_level(logging.INFO)

    def rename_and_mistype(config):
        video.rename(tmp_path / "b.mp4")
        config.write_text(base_config(tmp_path / "typo.mp4", models_dir))

    # Stops a run that would wait for ever (as a service manager would, much later).
    stopper = threading.Timer(20, os.kill, (os.getpid(), signal.SIGTERM))
    stopper.start()
    try:
        status, recs, _, seconds = run_with_replacement(tmp_path, base_config(video, models_dir),
                                                         rename_and_mistype, frames=100_000)
    finally:
        stopper.cancel()
    assert seconds < 15, "the run waited for frames that never come"
    assert status == 1
    assert 30 <= len(recs) < 100_000
    assert rejected(caplog) == []
    lost = [m for m in caplog.messages if "no camera runs" in m]
    assert lost and "typo.mp4" in lost[0] and "a.mp4" in lost[0]
    assert any(m.startswith("frame source failed:") and "a.mp4" in m for m in caplog.messages)


def test_pi_camera_restart_reattaches_the_drm_preview(tmp_path, models_dir, shared, monkeypatch):
    """On a Pi the camera can be opened once: the old one is closed before the new one opens, and the DRM
    preview (the camera's own) follows the new camera."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from fakes import picamera2 as fake_picamera2

    module = fake_picamera2.install(monkeypatch, video=shared / "data/tfjs_pose_detection/pose_1.mp4",
                                    realtime=True)
    screen = tmp_path / "sys/class/drm/card1-HDMI-A-1"
    screen.mkdir(parents=True)
    (screen / "status").write_text("connected\n")
    (screen / "modes").write_text("1920x1080\n")
    from pose_appliance.display import drm_display
    monkeypatch.setattr(drm_display, "DrmDisplay",
                        functools.partial(drm_display.DrmDisplay, sysfs_root=str(tmp_path / "sys")))
    config = (f'[camera]\ntype = "picamera2"\nwidth = 640\nheight = 480\n[display]\ntype = "drm"\n'
              f'[service]\nmodels_dir = "{models_dir}"\n')
    recs, _appliance = run_with_edit(tmp_path, config, config.replace("width = 640\nheight = 480",
                                                                       "width = 320\nheight = 240"), frames=90)
    cameras = module.hardware.instances
    assert len(cameras) == 2 and not any(camera.is_open for camera in cameras)  # both closed at the end
    assert max(max(k[0] for k in r["keypoints"]) for r in recs[:30] if r["keypoints"]) > 320
    assert max(max(k[0] for k in r["keypoints"]) for r in recs[-20:] if r["keypoints"]) <= 320
    for camera in cameras:
        assert any(kind == module.Preview.DRM for kind, _ in camera.preview_history)
        assert camera.overlay_calls, "no overlay reached this camera's DRM preview"
    assert_no_gap(recs, limit=2.0)


@pytest.mark.parametrize("new_model, restarts", [("movenet_thunder_int8", True), ("movenet_lightning_int8", False)])
def test_a_new_model_input_size_resizes_the_pi_camera_lores_stream(tmp_path, models_dir, shared, monkeypatch,
                                                                    new_model, restarts):
    """The lores stream is sized for the model: Thunder (256x256) after Lightning (192x192) needs a larger one,
    so the camera restarts, as a fresh start with Thunder would open it. A model of the same input size (here:
    other threads) keeps the camera running. Thunder is not in ../shared: stand-in estimators of the two input
    sizes replace the models."""
    import sys

    from pose_appliance import app
    from pose_appliance.camera.picamera2_source import lores_size_for
    from pose_appliance.inference.estimator import NullEstimator
    from pose_appliance.pipeline import Stages

    sys.path.insert(0, str(Path(__file__).parent))
    from fakes import picamera2 as fake_picamera2

    module = fake_picamera2.install(monkeypatch, video=shared / "data/tfjs_pose_detection/pose_1.mp4",
                                    realtime=True)
    read_by_model: dict[str, set] = {}

    class SizedEstimator(NullEstimator):
        def __init__(self, name, size):
            self.input_size = (size, size)
            self.read = read_by_model.setdefault(name, set())

        def prepare(self, image):
            self.read.add(image.shape[:2])
            return super().prepare(image)

    def build_stages(config, **kwargs):
        size = 256 if "thunder" in config.model.name else 192
        return Stages(SizedEstimator(config.model.name, size), None, None, None, config.model.name)

    monkeypatch.setattr(app, "build_stages", build_stages)
    config = (f'[camera]\ntype = "picamera2"\nwidth = 640\nheight = 480\n[display]\ntype = "null"\n'
              f'[service]\nmodels_dir = "{models_dir}"\n[model]\nname = "movenet_lightning_int8"\n')
    new_config = config.replace('name = "movenet_lightning_int8"\n', f'name = "{new_model}"\nthreads = 2\n')
    recs, appliance = run_with_edit(tmp_path, config, new_config, frames=150)
    assert appliance.config.model.name == new_model and appliance.config.model.threads == 2
    cameras = module.hardware.instances
    if restarts:
        assert len(cameras) == 2 and appliance.pipeline.source.lores_size == (342, 256)
        assert lores_size_for((640, 480), (256, 256)) == (342, 256)  # what a fresh start with Thunder opens
        assert read_by_model == {"movenet_lightning_int8": {(192, 256)}, "movenet_thunder_int8": {(256, 342)}}
        assert_no_gap(recs, limit=2.0)
    else:
        assert len(cameras) == 1 and appliance.pipeline.source.lores_size == (256, 192)
        assert read_by_model == {"movenet_lightning_int8": {(192, 256)}}
    assert [r["model"] for r in recs][-1] == new_model


def test_a_file_plays_on_or_stops_as_the_display_is_watched_or_not(tmp_path, models_dir, shared, caplog):
    """loop/realtime = "auto": looping live for the web page; switched to a null display, the file is read once
    more from its start, unpaced, and the run ends at its end."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.INFO)
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    watched = (f'[camera.video]\npath = "{video}"\n[display]\ntype = "web"\n[display.web]\nport = {port}\n'
               f'[service]\nmodels_dir = "{models_dir}"\n')
    unwatched = watched.replace('type = "web"', 'type = "null"')
    recs, appliance = run_with_edit(tmp_path, watched, unwatched, frames=100_000)
    assert appliance.config.display.type == "null"
    assert any(m == "camera restarted: video" for m in caplog.messages)
    restart = next(i for i, r in enumerate(recs) if i and r["frame"] < recs[i - 1]["frame"])
    assert restart >= 30 and [r["frame"] for r in recs[restart:]] == list(range(120))  # every frame, once


def test_a_model_not_fetched_yet_is_refused_with_the_fetch_command(tmp_path, models_dir, shared, caplog):
    """What the README tells a Pi owner: name another model before fetching it, and the journal says how."""
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    caplog.set_level(logging.INFO)
    thunder = base_config(video, models_dir).replace('name = "movenet_lightning_int8"', 'name = "movenet_thunder_int8"')
    recs, _ = run_with_edit(tmp_path, base_config(video, models_dir), thunder, frames=90)
    assert len(recs) == 90 and {r["model"] for r in recs} == {"movenet_lightning_int8"}
    rejected = [m for m in caplog.messages if "rejected" in m]
    assert rejected and "movenet_thunder_int8 is not fetched" in rejected[0]
    assert f"run `pose-appliance models fetch --models-dir {models_dir} movenet_thunder_int8`" in rejected[0]


def test_a_config_written_in_two_steps_is_read_once_whole(tmp_path, models_dir, shared, caplog, monkeypatch):
    """An editor or copy truncates the file and writes it; caught in between, the first half is a valid config
    (its models_dir missing: the default folder, where nothing is fetched). The appliance waits until the file
    holds still. The main loop looks every 0.05 s here, so a half-written file 0.15 s long is surely seen."""
    from pose_appliance import app

    monkeypatch.setattr(app, "MAIN_LOOP_TICK_S", 0.05)
    monkeypatch.setattr(app, "CONFIG_SETTLE_S", 0.3)
    caplog.set_level(logging.INFO)
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    config = tmp_path / "config.toml"
    config.write_text(base_config(video, models_dir))
    new_text = base_config(video, models_dir) + "[overlay]\nline_width = 5\n"
    keypoints = tmp_path / "keypoints.jsonl"
    appliance = Appliance(config, Overrides([]), max_frames=90, keypoints_path=keypoints)

    def editor():
        if wait_for(lambda: len(records(keypoints)) >= 30):
            with config.open("w") as handle:
                handle.write(new_text[:new_text.index("[service]")])
                handle.flush()
                time.sleep(0.15)
                handle.write(new_text[new_text.index("[service]"):])

    thread = threading.Thread(target=editor, daemon=True)
    thread.start()
    assert appliance.run() == 0
    thread.join(1)
    assert [m for m in caplog.messages if "reload" in m and "rejected" in m] == []
    assert [m for m in caplog.messages if m.startswith("reloaded (config file changed)")] != []
    assert appliance.config.overlay.line_width == 5


# ------------------------------------------- nothing a reload reads can stop the running setup (deep nesting,
# NaN/inf, a FIFO in place of the file): the appliance keeps its last good config and says why
def run_with_replacement(tmp_path, config_text: str, replace, *, frames: int = 90):
    """Run the appliance in this (main) thread; ``replace(config_path)`` runs after 30 processed frames."""
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    keypoints = tmp_path / "keypoints.jsonl"
    appliance = Appliance(config, Overrides([]), max_frames=frames, keypoints_path=keypoints)
    replaced = threading.Event()

    def editor():
        if wait_for(lambda: len(records(keypoints)) >= 30):
            replace(config)
            replaced.set()

    thread = threading.Thread(target=editor, daemon=True)
    thread.start()
    started = time.monotonic()
    status = appliance.run()
    thread.join(1)
    assert replaced.is_set(), "the run ended before the config was replaced"
    return status, records(keypoints), appliance, time.monotonic() - started


def rejected(caplog) -> list[str]:
    return [m for m in caplog.messages if "rejected, still running the previous config" in m]


@pytest.mark.parametrize("new_lines, words", [
    ("[overlay]\nline_width = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    ("[overlay]\nstyle = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "nested too deeply"),
    ("min_crop_keypoint_score = nan\n", "expected a finite number"),  # lands in the base's last table, [model]
    ('[camera]\ntype = "images"\n[camera.images]\npath = "{yoga}"\nfps = nan\nrealtime = true\n',
     "camera.images.fps"),
    ("[classifier]\nsmoothing = -inf\n", "classifier.smoothing"),
])
def test_a_reload_that_reads_bad_values_keeps_running(tmp_path, models_dir, shared, caplog, new_lines, words):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    yoga = shared / "data/yoga_cg_subset/test/tree"
    caplog.set_level(logging.INFO)
    text = base_config(video, models_dir)
    new_text = text.replace('[camera]\ntype = "video"\n', "") if "[camera]" in new_lines else text
    status, recs, appliance, _ = run_with_replacement(
        tmp_path, text, lambda path: path.write_text(new_text + new_lines.replace("{yoga}", str(yoga))))
    assert status == 0 and len(recs) == 90
    assert_no_gap(recs)
    assert rejected(caplog) and words in rejected(caplog)[0]
    assert appliance.config.camera.type == "video" and appliance.config.overlay.line_width == 3


def test_a_fifo_in_place_of_the_config_is_refused_without_blocking(tmp_path, models_dir, shared, caplog):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    caplog.set_level(logging.INFO)
    text = base_config(video, models_dir)

    def swap_in_fifo(path):
        path.unlink()
        os.mkfifo(path)
        # If the appliance blocked on it, a writer after 20 s lets the test end (and fail on the timing).
        threading.Timer(20, lambda: path.write_text(text)).start()

    status, recs, _, seconds = run_with_replacement(tmp_path, text, swap_in_fifo)
    assert status == 0 and len(recs) == 90
    assert seconds < 15, "the main thread blocked on the FIFO"
    assert rejected(caplog) and "not a regular file" in rejected(caplog)[0]


@pytest.mark.parametrize("emptied", [b"", b"  \n\n\t\n", b"# [display]\n# type = \"web\"\n\n",
                                     b"[display]\n[camera]\n", b"[display.web]\n# port = 8081\n"])
def test_a_config_file_emptied_mid_run_is_refused(tmp_path, models_dir, shared, caplog, emptied):
    # A truncating copy that dies or `> config.toml` by mistake: all defaults would switch the appliance to the
    # demo video and the record display, which ends the run.
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    caplog.set_level(logging.INFO)
    status, recs, appliance, _ = run_with_replacement(
        tmp_path, base_config(video, models_dir), lambda path: path.write_bytes(emptied))
    assert status == 0 and len(recs) == 90
    assert_no_gap(recs)
    assert rejected(caplog), caplog.messages
    message = rejected(caplog)[0]
    assert str(tmp_path / "config.toml") in message and "no settings" in message and "check-config" in message
    assert appliance.config.display.type == "null" and appliance.config.camera.video.path == str(video)


def photo_clip(photos: list[Path], path: Path, *, frames_each: int, size: tuple[int, int]) -> Path:
    """An mp4 of ``size`` (w, h) at 30 fps showing each photo for ``frames_each`` frames, pasted in its middle on
    grey: a camera watching a held pose from further away than the photographer."""
    import cv2
    import numpy as np

    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (width, height))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for photo in photos:
        image = cv2.imread(str(photo))
        top, left = (height - image.shape[0]) // 2, (width - image.shape[1]) // 2
        frame = np.full((height, width, 3), 128, np.uint8)
        frame[top:top + image.shape[0], left:left + image.shape[1]] = image
        for _ in range(frames_each):
            writer.write(frame)
    writer.release()
    return path


def test_a_restarted_camera_starts_tracking_afresh(tmp_path, models_dir, shared):
    """The new camera's first frame is read whole (the padded full frame of its own size), not cropped where the
    person stood in the old camera's picture, and its keypoints are not smoothed with the old ones."""
    import numpy as np

    from pose_appliance.app import build_stages
    from pose_appliance.camera import VideoFileSource
    from pose_appliance.config import Config, replace
    from pose_appliance.inference.crop_region import padded_full_frame

    tree = photo_clip(sorted((shared / "data/yoga_cg_subset/test/tree").glob("*.jpg")), tmp_path / "tree.mp4",
                      frames_each=30, size=(640, 480))  # 10 s: the reload comes long before the clip loops
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    new_text = base_config(video, models_dir).replace('[camera]\ntype = "video"\n',
                                                      '[camera]\ntype = "video"\nwidth = 320\nheight = 240\n')
    recs, _ = run_with_edit(tmp_path, base_config(tree, models_dir), new_text, frames=120)
    restart = next(i for i, r in enumerate(recs) if i and r["frame"] < recs[i - 1]["frame"])
    before, first = recs[restart - 1], recs[restart]
    assert before["label"] == "tree" and before["crop"] != pytest.approx(padded_full_frame(640, 480), abs=1e-3)
    assert first["crop"] == pytest.approx(padded_full_frame(320, 240), abs=1e-5)

    # The same frame through a model that has seen nothing before it.
    with VideoFileSource(video, width=320, height=240) as source:
        while (frame := source.read()).index < first["frame"]:
            pass
    stages = build_stages(replace(Config(), "service.models_dir", str(models_dir)))
    try:
        fresh = stages.estimator.estimate(frame.image, timestamp=frame.timestamp)
    finally:
        stages.estimator.close()
    assert fresh is not None
    np.testing.assert_allclose(first["keypoints"], fresh.keypoints, atol=0.011)  # the records round to 0.01


def test_a_shown_label_stays_across_the_loop_of_a_video(tmp_path, models_dir, shared):
    """A looping file restarts tracking at each pass (a cut), but the label of a pose held across the jump does
    not blink off: the label smoother goes on."""
    from conftest import looping_records

    from pose_appliance.inference.crop_region import padded_full_frame

    tree = photo_clip(sorted((shared / "data/yoga_cg_subset/test/tree").glob("*.jpg"))[:2], tmp_path / "tree.mp4",
                      frames_each=20, size=(640, 480))
    recs = looping_records(tmp_path, models_dir, tree, 60)
    assert recs[40]["crop"] == pytest.approx(padded_full_frame(640, 480), abs=1e-5)  # the cut: read whole
    assert [r["label"] for r in recs[36:46]] == ["tree"] * 10
