"""File, folder and V4L2 sources on the real data of ../shared; open_source picks them by camera.type."""

from __future__ import annotations

import logging
import shutil
import sys
import time

import cv2
import numpy as np
import pytest

from pose_appliance.camera import ImageFolderSource, OpenCVCameraSource, SourceError, VideoFileSource, open_source
from pose_appliance.camera.imageops import target_size
from pose_appliance.camera.pacer import Pacer
from pose_appliance.config import CameraConfig, validate_config


@pytest.fixture(scope="module")
def pose_video(shared):
    return shared / "data/tfjs_pose_detection/pose_1.mp4"


@pytest.fixture(scope="module")
def pose_video_bgr(pose_video):
    capture = cv2.VideoCapture(str(pose_video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 120
    return frames


@pytest.fixture(scope="module")
def tree_folder(shared):
    return shared / "data/yoga_cg_subset/test/tree"


def camera_config(**changes) -> CameraConfig:
    data = {}
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[key] = value
    return validate_config({"camera": data}).camera


# ------------------------------------------------------------------------------------------------ video file
def test_video_hands_over_every_frame_in_order_as_rgb(pose_video, pose_video_bgr):
    with VideoFileSource(pose_video) as source:
        assert not source.live and source.frame_rate == pytest.approx(30.0)
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    assert [f.index for f in frames] == list(range(120))
    assert frames[0].image.dtype == np.uint8 and frames[0].image.shape == (576, 576, 3)
    for i in (0, 57, 119):  # RGB: the channels of OpenCV's BGR, reversed
        np.testing.assert_array_equal(frames[i].image, pose_video_bgr[i][:, :, ::-1])
    timestamps = [f.timestamp for f in frames]
    assert timestamps == sorted(timestamps) and timestamps[0] <= time.monotonic()
    with pytest.raises(SourceError, match="before start"):  # a stopped source says so instead of hanging
        source.read()


def test_video_resizes_to_the_configured_size(pose_video, pose_video_bgr):
    with VideoFileSource(pose_video, width=320, height=240) as source:
        frame = source.read()
    assert frame.image.shape == (240, 320, 3)
    expected = cv2.resize(pose_video_bgr[0], (320, 240), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    np.testing.assert_array_equal(frame.image, expected)
    with VideoFileSource(pose_video, width=288) as source:  # one side given: keep the aspect ratio
        assert source.read().size == (288, 288)


def test_video_loop_keeps_counting_and_starts_again(pose_video):
    with VideoFileSource(pose_video, loop=True) as source:
        frames = [source.read() for _ in range(250)]
    assert [f.index for f in frames] == list(range(250))
    assert [f.index for f in frames if f.cut] == [120, 240]  # the picture jumps back to the start
    np.testing.assert_array_equal(frames[120].image, frames[0].image)
    np.testing.assert_array_equal(frames[249].image, frames[9].image)


def test_realtime_video_is_live_and_skips_overdue_frames(pose_video, pose_video_bgr):
    with VideoFileSource(pose_video, realtime=True) as source:
        assert source.live
        first = source.read()
        time.sleep(0.3)  # about 9 frame periods at 30 fps
        late = source.read()
    assert first.index == 0
    assert late.index >= 5  # the frames that fell due meanwhile were skipped, not queued
    assert source.dropped == late.index - 1  # ... and counted
    np.testing.assert_array_equal(late.image, pose_video_bgr[late.index][:, :, ::-1])


def test_pacer_waits_for_the_next_slot_or_jumps_to_the_due_one():
    now = [100.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(10.0, clock=lambda: now[0], sleep=sleep)
    assert pacer.next_slot(0) == 0 and slept == []
    assert pacer.next_slot(1) == 1 and slept == [pytest.approx(0.1)]
    now[0] += 0.55  # consumer was slow: slots 2..6 are due
    assert pacer.next_slot(2) == 6


def test_missing_or_unreadable_video_is_a_one_line_error(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceError, match=r"nope.mp4 does not exist") as info:
        VideoFileSource(missing).start()
    assert "\n" not in str(info.value)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match=r"cannot read .*garbage.mp4"):
        VideoFileSource(garbage).start()


# ------------------------------------------------------------------------------------------------ images
def test_image_folder_reads_sorted_images_as_rgb(tree_folder):
    files = sorted(tree_folder.glob("*.jpg"))
    with ImageFolderSource(tree_folder) as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    assert [f.index for f in frames] == list(range(len(files))) and len(files) == 10
    for frame, path in zip(frames, files):
        np.testing.assert_array_equal(frame.image, cv2.imread(str(path))[:, :, ::-1])
    assert not source.live and source.skipped == []


@pytest.fixture
def mixed_folder(tmp_path, shared, tree_folder):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(sorted(tree_folder.glob("*.jpg"))[0], folder / "a_tree.jpg")
    (folder / "b_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    shutil.copy(shared / "data/tf_examples_rpi_pose/image1.png", folder / "c_rgba.png")  # RGBA
    gray = cv2.cvtColor(cv2.imread(str(shared / "data/tf_examples_rpi_pose/image2.jpeg")), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(folder / "d_gray.png"), gray)
    shutil.copy(shared / "data/coral_test_data/squat.bmp", folder / "E_SQUAT.BMP")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_image_folder_skips_a_corrupt_file_and_converts_rgba_and_gray(mixed_folder, shared, caplog):
    with caplog.at_level(logging.WARNING), ImageFolderSource(mixed_folder) as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    names = [p.name for p in source.files]
    assert names == ["E_SQUAT.BMP", "a_tree.jpg", "b_corrupt.jpg", "c_rgba.png", "d_gray.png"]
    assert [f.index for f in frames] == [0, 1, 3, 4]  # the corrupt file's slot is a gap
    assert [p.name for p in source.skipped] == ["b_corrupt.jpg"]
    assert any("b_corrupt.jpg" in r.getMessage() for r in caplog.records)
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.ndim == 3 and frame.image.shape[2] == 3
    rgba = cv2.imread(str(shared / "data/tf_examples_rpi_pose/image1.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape[2] == 4
    np.testing.assert_array_equal(frames[2].image, cv2.cvtColor(rgba, cv2.COLOR_BGRA2RGB))
    gray = frames[3].image
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])


def test_image_folder_loop_and_resize(tree_folder):
    with ImageFolderSource(tree_folder, loop=True, width=150, height=100) as source:
        frames = [source.read() for _ in range(25)]
    assert [f.index for f in frames] == list(range(25))
    assert frames[0].size == (150, 100)
    np.testing.assert_array_equal(frames[10].image, frames[0].image)


def test_realtime_image_folder_skips_and_counts_overdue_images(tree_folder):
    with ImageFolderSource(tree_folder, loop=True, fps=100.0, realtime=True) as source:
        assert source.live
        first = source.read()
        time.sleep(0.1)  # about 10 image periods at 100 fps
        late = source.read()
    assert first.index == 0 and late.index >= 5
    assert source.dropped == late.index - 1 and source.skipped == []


def test_image_folder_errors(tmp_path, mixed_folder):
    with pytest.raises(SourceError, match="has no"):
        ImageFolderSource(_empty(tmp_path)).start()
    with pytest.raises(SourceError, match="is not a folder"):
        ImageFolderSource(tmp_path / "missing").start()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.jpg").write_bytes(b"nope")
    source = ImageFolderSource(broken, loop=True)
    source.start()
    with pytest.raises(SourceError, match="none of the images"):
        source.read()


def _empty(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    return empty


# --------------------------------------------------------------------------------------------- V4L2 camera
class FakeVideoCapture:
    """cv2.VideoCapture at its API boundary: a V4L2 webcam that only does 640x480 and plays pose_1.mp4."""

    def __init__(self, frames, device, api, *, opened=True, fail_after=None):
        self.device, self.api, self.opened = device, api, opened
        self.frames, self.fail_after = frames, fail_after
        self.props = {cv2.CAP_PROP_FRAME_WIDTH: 640.0, cv2.CAP_PROP_FRAME_HEIGHT: 480.0, cv2.CAP_PROP_FPS: 30.0}
        self.set_calls = []
        self.reads = 0
        self.released = False

    def isOpened(self):
        return self.opened

    def set(self, prop, value):
        self.set_calls.append((prop, value))
        if prop == cv2.CAP_PROP_FPS:
            self.props[prop] = float(value)
        return True

    def get(self, prop):
        return self.props.get(prop, 0.0)

    def read(self):
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            return False, None
        frame = self.frames[(self.reads - 1) % len(self.frames)]
        return True, cv2.resize(frame, (640, 480))

    def release(self):
        self.released = True


def test_opencv_camera_opens_v4l2_sets_size_and_fps_and_delivers_rgb(pose_video_bgr):
    made = []

    def factory(device, api):
        made.append(FakeVideoCapture(pose_video_bgr, device, api))
        return made[-1]

    source = OpenCVCameraSource("/dev/video2", width=640, height=480, fps=15, video_capture=factory)
    assert source.live
    with source:
        frames = [source.read() for _ in range(3)]
    capture = made[0]
    assert capture.device == "/dev/video2" and capture.api == cv2.CAP_V4L2
    assert (cv2.CAP_PROP_FRAME_WIDTH, 640) in capture.set_calls
    assert (cv2.CAP_PROP_FRAME_HEIGHT, 480) in capture.set_calls
    assert (cv2.CAP_PROP_FPS, 15) in capture.set_calls and source.frame_rate == 15.0
    assert [f.index for f in frames] == [0, 1, 2]
    np.testing.assert_array_equal(frames[1].image, cv2.resize(pose_video_bgr[1], (640, 480))[:, :, ::-1])
    assert capture.released


def test_opencv_camera_index_resize_and_errors(pose_video_bgr):
    made = []

    def factory(device, api):
        made.append(FakeVideoCapture(pose_video_bgr, device, api, fail_after=2))
        return made[-1]

    source = OpenCVCameraSource("0", width=320, height=240, video_capture=factory)
    source.start()
    assert made[0].device == 0  # a bare number is a camera index
    assert source.read().size == (320, 240)  # the camera ignored 320x240: frames are resized to it
    source.read()
    with pytest.raises(SourceError, match="stopped delivering frames"):
        source.read()
    source.stop()

    closed = OpenCVCameraSource("/dev/video9", video_capture=lambda d, a: FakeVideoCapture([], d, a, opened=False))
    with pytest.raises(SourceError, match="cannot open /dev/video9") as info:
        closed.start()
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------- open_source
def test_open_source_picks_the_backend_by_type(pose_video, tree_folder):
    source = open_source(camera_config(type="video", video__path=str(pose_video), video__realtime=True,
                                       width=320, height=320))
    assert isinstance(source, VideoFileSource) and source.live and (source.width, source.height) == (320, 320)
    source = open_source(camera_config(type="images", images__path=str(tree_folder), images__fps=2.0))
    assert isinstance(source, ImageFolderSource) and source.frame_rate == 2.0 and not source.live
    source = open_source(camera_config(type="opencv", opencv__device="1", fps=24))
    assert isinstance(source, OpenCVCameraSource) and source.device == 1 and source.requested_fps == 24
    source = open_source(camera_config(type="picamera2", width=1280, height=720), lores_size=(256, 256))
    assert type(source).__name__ == "Picamera2Source" and source.lores_size == (456, 256)
    assert "picamera2" not in sys.modules  # imported only when the camera starts
    with pytest.raises(SourceError, match=r"camera.images.path is empty"):
        open_source(camera_config(type="images"))


def test_open_source_uses_the_demo_video_when_no_path_is_given(pose_video, monkeypatch, tmp_path):
    from pose_appliance import modelstore

    asked = []

    def model_file(name, models_dir):
        asked.append((name, models_dir))
        return pose_video

    monkeypatch.setattr(modelstore, "model_file", model_file)
    source = open_source(camera_config(type="video"), models_dir=tmp_path)
    assert asked == [("demo_video", tmp_path)] and source.path == pose_video

    def missing(name, models_dir):
        raise modelstore.ModelError("demo_video is not fetched: run `pose-appliance models fetch demo_video`")

    monkeypatch.setattr(modelstore, "model_file", missing)
    with pytest.raises(SourceError, match="models fetch"):
        open_source(camera_config(type="video"), models_dir=tmp_path)


def test_target_size_keeps_aspect_when_one_side_is_zero():
    assert target_size(0, 0, (576, 576)) is None
    assert target_size(320, 0, (640, 480)) == (320, 240)
    assert target_size(0, 240, (640, 480)) == (320, 240)
    assert target_size(640, 480, (640, 480)) is None
