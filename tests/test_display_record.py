"""The record target (the demo's default display): an mp4 file or numbered PNG frames, read back and checked."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from conftest import keypoint_xy, save_screenshot

from pose_appliance.config import DisplayConfig, OverlayConfig, RecordDisplayConfig
from pose_appliance.display import DisplayError, open_display
from pose_appliance.render import OverlayRenderer
from pose_appliance.render.overlay_renderer import KEYPOINT_COLOR


def record(path, every=1, frame_rate=30.0):
    config = DisplayConfig(type="record", record=RecordDisplayConfig(path=str(path), every=every))
    return open_display(config, camera=SimpleNamespace(frame_rate=frame_rate))


def test_mp4_file_holds_the_overlaid_frames(tmp_path, result):
    path = tmp_path / "out" / "overlay.mp4"
    display = record(path, frame_rate=15.0)
    display.open(result.frame.size)
    for _ in range(12):
        display.show(result, OverlayRenderer(OverlayConfig()), {})
    display.close()
    video = cv2.VideoCapture(str(path))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(15.0)
    ok, bgr = video.read()
    video.release()
    assert ok and bgr.shape == (576, 576, 3)
    x, y = keypoint_xy(result, "left_hip")
    red = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(axis=0)
    assert np.abs(red - KEYPOINT_COLOR).max() < 60, red  # mp4v is lossy


def test_png_folder_keeps_every_nth_frame_exactly(tmp_path, result):
    display = record(tmp_path / "frames", every=3)
    display.open(result.frame.size)
    for _ in range(7):
        display.show(result, OverlayRenderer(OverlayConfig()), {})
    display.close()
    files = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert files == ["frame_000001.png", "frame_000002.png", "frame_000003.png"]
    rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "frames" / files[0])), cv2.COLOR_BGR2RGB)
    for name in ("left_hip", "right_knee", "left_wrist"):
        x, y = keypoint_xy(result, name)
        assert tuple(rgb[y, x]) == KEYPOINT_COLOR, name
    save_screenshot(rgb, "record")


def test_unwritable_path_is_a_clear_error(tmp_path, result):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    with pytest.raises(DisplayError, match=r"display\.record\.path: cannot create"):
        record(blocker / "overlay.mp4").open(result.frame.size)


def played_seconds(path) -> tuple[int, list[float], float]:
    """Frames, the times they are shown at and the file's duration, as PyAV reads them. The times are the
    packets' decoding times: the encoder reorders nothing, and FFmpeg's AVI reader guesses presentation times
    (one frame late)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(packet.dts * stream.time_base) for packet in container.demux(stream) if packet.size]
        duration = (float(stream.duration * stream.time_base) if stream.duration
                    else container.duration / av.time_base)
    return len(times), times, duration


@pytest.fixture
def no_x264(monkeypatch):
    """PyAV built without libx264 (some wheels, some distributions): the recording falls back to MPEG-4 part 2."""
    import av

    codec = av.codec.Codec

    def without_x264(name, mode="r"):
        if name == "libx264":
            raise ValueError("no libx264 in this build")
        return codec(name, mode)

    monkeypatch.setattr(av.codec, "Codec", without_x264)


@pytest.mark.parametrize("encoder", ["libx264", "mpeg4"])
@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_a_live_source_that_drops_frames_is_recorded_in_real_time(tmp_path, result, suffix, encoder, request):
    # A 30 fps camera whose pipeline keeps every 3rd frame (and once misses a beat): 3 s of real time.
    if encoder == "mpeg4":
        request.getfixturevalue("no_x264")
    path = tmp_path / f"overlay{suffix}"
    display = open_display(DisplayConfig(type="record", record=RecordDisplayConfig(path=str(path))),
                           camera=SimpleNamespace(frame_rate=30.0, live=True))
    display.open(result.frame.size)
    indices = [3 * i for i in range(30) if i != 12]
    for index in indices:
        frame = dataclasses.replace(result.frame, index=index, timestamp=5000.0 + index / 30)
        display.show(dataclasses.replace(result, frame=frame), OverlayRenderer(OverlayConfig()), {})
    display.close()
    count, times, duration = played_seconds(path)
    assert count == len(indices)
    assert times[0] == pytest.approx(0.0)
    assert times == pytest.approx([index / 30 for index in indices], abs=0.002)
    assert 2.9 + 1 / 30 - 0.01 <= duration <= 3.0 + 0.01, duration
    assert display.stopped_reason is None


def test_an_encoder_that_refuses_its_settings_stops_the_recording_not_the_appliance(tmp_path, result, no_x264,
                                                                                     monkeypatch, caplog):
    """The encoder opens on the first frame: what it refuses there (here a time base MPEG-4 part 2 cannot
    hold) ends the recording with one logged error, as a full disk does; show() raises nothing."""
    from fractions import Fraction

    from pose_appliance.display import record_display

    monkeypatch.setattr(record_display, "TIMED_TIME_BASE", Fraction(1, 90_000))
    path = tmp_path / "overlay.mp4"
    display = open_display(DisplayConfig(type="record", record=RecordDisplayConfig(path=str(path))),
                           camera=SimpleNamespace(frame_rate=30.0, live=True))
    display.open(result.frame.size)
    for index in range(3):
        frame = dataclasses.replace(result.frame, index=index, timestamp=index / 30)
        display.show(dataclasses.replace(result, frame=frame), OverlayRenderer(OverlayConfig()), {})
    display.close()
    assert display.stopped_reason is not None and str(path) in display.stopped_reason
    assert any("recording stopped after 0 frames" in message for message in caplog.messages)


def test_a_file_read_as_fast_as_it_decodes_stays_frame_exact(tmp_path, result):
    # Not live (an unpaced file): frames never drop, and their times are the file's, frame by frame.
    path = tmp_path / "overlay.mp4"
    display = open_display(DisplayConfig(type="record", record=RecordDisplayConfig(path=str(path))),
                           camera=SimpleNamespace(frame_rate=25.0, live=False))
    display.open(result.frame.size)
    for index in range(10):
        frame = dataclasses.replace(result.frame, index=index, timestamp=7.0 + index * 0.0013)  # decode times
        display.show(dataclasses.replace(result, frame=frame), OverlayRenderer(OverlayConfig()), {})
    display.close()
    count, times, duration = played_seconds(path)
    assert count == 10 and times == pytest.approx([index / 25 for index in range(10)])
    assert duration == pytest.approx(0.4)
