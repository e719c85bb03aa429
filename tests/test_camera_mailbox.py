"""Latest-frame mailbox and capture thread: live sources drop (counted), file sources hand over every frame."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest
from fakes import picamera2 as fake

from pose_appliance.camera import CaptureThread, FrameSource, LatestFrameMailbox, SourceError, VideoFileSource
from pose_appliance.camera.picamera2_source import Picamera2Source
from pose_appliance.config import Picamera2SourceConfig


def test_newest_item_wins_and_drops_are_counted():
    box = LatestFrameMailbox(drop_when_full=True)
    for item in (1, 2, 3):
        assert box.put(item)
    assert box.get(timeout=0) == 3 and box.dropped == 2
    assert box.get(timeout=0.01) is None  # empty: timeout


def test_close_wakes_a_waiting_consumer_and_keeps_the_last_item():
    box = LatestFrameMailbox()
    got = []
    waiter = threading.Thread(target=lambda: got.append(box.get(timeout=5)))
    waiter.start()
    time.sleep(0.05)
    box.close()
    waiter.join(2)
    assert not waiter.is_alive() and got == [None]

    box = LatestFrameMailbox()
    box.put("last")
    box.close()
    assert not box.put("late") and box.closed
    assert box.get(timeout=0) == "last" and box.get(timeout=0) is None


def test_blocking_mode_waits_for_the_consumer_and_close_releases_the_producer():
    box = LatestFrameMailbox(drop_when_full=False, depth=1)
    assert box.put(1)
    assert not box.put(2, timeout=0.05)  # full: the producer waits (here: times out)
    results = []
    producer = threading.Thread(target=lambda: results.append(box.put(3)))
    producer.start()
    time.sleep(0.05)
    assert producer.is_alive()
    box.close()
    producer.join(2)
    assert results == [False] and box.dropped == 0


def test_a_file_source_may_read_a_few_frames_ahead_in_order_never_more():
    box = LatestFrameMailbox(drop_when_full=False)
    assert all(box.put(item, timeout=0) for item in range(box.depth))
    assert not box.put("one too many", timeout=0.05)
    assert box.get(timeout=0) == 0
    assert box.put(box.depth, timeout=0)  # a place came free
    box.close()
    assert [box.get(timeout=0) for _ in range(box.depth + 1)] == [*range(1, box.depth + 1), None]
    assert box.dropped == 0 and box.delivered == box.depth + 1

    with pytest.raises(ValueError):
        LatestFrameMailbox(drop_when_full=False, depth=0)


class FastLiveSource(FrameSource):
    """A live source producing frames as fast as it is read (like a camera far faster than the model)."""

    name = "fast"
    live = True

    def __init__(self, count: int):
        self.count, self.produced = count, 0

    def read(self):
        if self.produced >= self.count:
            return None
        index, self.produced = self.produced, self.produced + 1
        time.sleep(0.0005)
        return self.make_frame(np.full((4, 4, 3), index % 256, np.uint8), index)


def test_slow_consumer_of_a_live_source_drops_frames_never_a_backlog():
    source = FastLiveSource(400)
    box = LatestFrameMailbox(drop_when_full=source.live)
    thread = CaptureThread(source, box)
    thread.start()
    received = []
    while (frame := box.get(timeout=2)) is not None:
        received.append(frame.index)
        time.sleep(0.01)  # a slow model
    assert thread.finished.wait(2) and thread.error is None
    assert box.dropped > 0
    assert received == sorted(received) and len(set(received)) == len(received)
    assert len(received) + box.dropped == thread.frames == 400
    assert received[-1] == 399  # the newest frame, not one from the backlog


def test_file_source_in_blocking_mode_hands_over_every_frame_in_order(shared):
    source = VideoFileSource(shared / "data/tfjs_pose_detection/pose_1.mp4")
    source.start()
    box = LatestFrameMailbox(drop_when_full=source.live)
    thread = CaptureThread(source, box)
    thread.start()
    received, cuts = [], []
    while (frame := box.get(timeout=5)) is not None:
        received.append(frame.index)
        if frame.cut:
            cuts.append(frame.index)
        if frame.index % 20 == 0:
            time.sleep(0.01)
    source.stop()
    assert received == list(range(120)) and box.dropped == 0
    assert cuts == [0]  # the first frame follows nothing the consumer saw (a restarted camera's)
    assert thread.error is None and box.closed


def test_a_frame_that_replaces_an_unread_cut_is_the_cut():
    """A live source's cut (a restarted camera's first frame, a paced file's first after it looped back) may be
    replaced before the model takes it: the frame that replaces it does not follow the frames the model saw
    either."""
    image = np.zeros((2, 2, 3), np.uint8)
    box = LatestFrameMailbox(drop_when_full=True)
    for index, cut in ((119, False), (0, True), (1, False)):
        assert box.put(FrameSource.make_frame(image, index, cut=cut))
    frame = box.get(timeout=0)
    assert (frame.index, frame.cut, box.dropped) == (1, True, 2)
    for index in (2, 3):
        assert box.put(FrameSource.make_frame(image, index))
    frame = box.get(timeout=0)
    assert (frame.index, frame.cut) == (3, False)


def test_picamera2_fake_camera_through_the_capture_thread_drops_for_a_slow_consumer():
    module = fake.make_module(platform="vc4", realtime=True)
    source = Picamera2Source(Picamera2SourceConfig(), width=320, height=240, fps=200.0, lores_size=(96, 96),
                             picamera2_module=module)
    with source:
        box = LatestFrameMailbox(drop_when_full=source.live)
        thread = CaptureThread(source, box)
        thread.start()
        received = [box.get(timeout=2) for _ in range(5)]
        for _ in range(5):
            time.sleep(0.03)
            received.append(box.get(timeout=2))
        assert thread.stop(timeout=2)
    indices = [f.index for f in received]
    assert indices == sorted(indices) and box.dropped > 0
    assert any(b - a > 1 for a, b in itertools.pairwise(indices))  # gaps: frames the consumer never saw
    assert module.hardware.instances[0].requests_outstanding == 0


class FailingSource(FrameSource):
    def __init__(self):
        self.reads = 0

    def read(self):
        self.reads += 1
        if self.reads > 2:
            raise SourceError("camera.opencv.device: /dev/video0 stopped delivering frames")
        return self.make_frame(np.zeros((2, 2, 3), np.uint8), self.reads - 1)


def test_source_error_is_recorded_and_the_mailbox_closed():
    box = LatestFrameMailbox(drop_when_full=False)
    thread = CaptureThread(FailingSource(), box)
    thread.start()
    assert [box.get(timeout=2).index for _ in range(2)] == [0, 1]
    assert box.get(timeout=2) is None and box.closed
    assert thread.finished.wait(2)
    assert isinstance(thread.error, SourceError) and "stopped delivering" in str(thread.error)


class BlockingSource(FrameSource):
    """A camera whose read() blocks for a while (waiting for the next frame)."""

    live = True

    def __init__(self):
        self.index = 0

    def read(self):
        time.sleep(0.2)
        self.index += 1
        return self.make_frame(np.zeros((2, 2, 3), np.uint8), self.index)


@pytest.mark.parametrize("drop_when_full", [True, False])
def test_stop_returns_within_a_bounded_time(drop_when_full):
    box = LatestFrameMailbox(drop_when_full=drop_when_full)
    thread = CaptureThread(BlockingSource(), box)
    thread.start()
    time.sleep(0.5)  # blocking mode: the producer now waits in put(), nobody consumes
    assert thread.stop(timeout=2)
    assert not thread.running and box.closed and thread.error is None
