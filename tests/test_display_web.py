"""The web target: the page in headless Chromium shows the overlaid stream; status.json; slow viewers skip frames
instead of slowing the pipeline."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import socket
import struct
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
from conftest import chromium, keypoint_xy, save_screenshot

from pose_appliance.config import DisplayConfig, OverlayConfig, WebDisplayConfig
from pose_appliance.display import DisplayError, open_display
from pose_appliance.render import OverlayRenderer
from pose_appliance.render.overlay_renderer import KEYPOINT_COLOR

STATUS = {"fps": 29.7, "model_fps": 312.5, "model": "movenet_lightning_int8", "delegate": "cpu", "label": "chair",
          "label_score": 0.89,
          "frames": 1200, "dropped": 3}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web(result):
    display = open_display(DisplayConfig(type="web", web=WebDisplayConfig(port=free_port())))
    display.open(result.frame.size)
    yield display
    display.close()


class Feeder:
    """The pipeline's display thread: shows frames at ~20 fps until stopped."""

    def __init__(self, display, result):
        self.display, self.result, self.stop = display, result, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        renderer = OverlayRenderer(OverlayConfig())
        index = 0
        while not self.stop.is_set():
            index += 1
            frame = dataclasses.replace(self.result.frame, index=index)
            self.display.show(dataclasses.replace(self.result, frame=frame), renderer, STATUS)
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def test_page_in_headless_chromium_shows_the_overlaid_stream(tmp_path, web, result):
    shot = tmp_path / "page.png"
    with Feeder(web, result):
        run = chromium(tmp_path, web.url, f"--screenshot={shot}", "--window-size=960,600")
        dom = chromium(tmp_path, web.url, "--dump-dom").stdout
    assert shot.is_file(), run.stderr[-2000:]
    rgb = cv2.cvtColor(cv2.imread(str(shot)), cv2.COLOR_BGR2RGB)
    for name in ("left_hip", "right_knee", "left_wrist"):  # the stream is the page's top-left image, 1:1
        x, y = keypoint_xy(result, name)
        assert np.abs(rgb[y, x].astype(int) - KEYPOINT_COLOR).max() < 40, (name, rgb[y, x])
    panel = rgb[:150, 600:]  # the label cell beside the picture, written in red
    assert (np.abs(panel.astype(int) - (255, 48, 48)).max(axis=2) < 60).sum() > 20
    save_screenshot(rgb, "web")
    assert '<td id="label">chair</td>' in dom and '<td id="delegate">cpu</td>' in dom
    assert f'serving <a href="{web.url}">{web.url}</a>' in dom
    assert '<th>Shown fps</th><td id="fps">29.7</td>' in dom and '<td id="model_fps">312.5</td>' in dom
    assert 'src="stream.mjpg"' in dom and 'fetch("status.json")' in dom  # the panel refreshes itself


def test_status_json_and_unknown_paths(web, result):
    web.show(result, OverlayRenderer(OverlayConfig()), STATUS)
    with urllib.request.urlopen(web.url + "status.json", timeout=5) as reply:
        assert reply.headers["Content-Type"] == "application/json"
        status = json.load(reply)
    assert status == {**STATUS, "viewers": 0}
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(web.url + "nothing", timeout=5)
    assert missing.value.code == 404


def test_no_jpeg_is_encoded_while_nobody_watches(web, result):
    for _ in range(5):
        web.show(result, OverlayRenderer(OverlayConfig()), STATUS)
    assert web.frames_encoded == 0


def read_parts(sock, until_index, deadline):
    """Read multipart parts from a raw socket until one has X-Frame-Index >= until_index; return their indexes."""
    buffer, indexes = b"", []
    sock.settimeout(1.0)
    while time.monotonic() < deadline and (not indexes or indexes[-1] < until_index):
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            continue
        if not chunk:
            break
        buffer += chunk
        while True:
            head_end = buffer.find(b"\r\n\r\n", buffer.find(b"--frame"))
            if buffer.find(b"--frame") < 0 or head_end < 0:
                break
            head = buffer[buffer.find(b"--frame"):head_end].decode()
            fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
            end = head_end + 4 + int(fields["Content-Length"])
            if len(buffer) < end:
                break
            assert buffer[head_end + 4:head_end + 6] == b"\xff\xd8"  # a JPEG
            indexes.append(int(fields["X-Frame-Index"]))
            buffer = buffer[end:]
    return indexes


def test_slow_viewers_get_the_latest_frame_and_never_block_show(web, result):
    renderer = OverlayRenderer(OverlayConfig())
    viewers = []
    for _ in range(4):  # viewers that ask for the stream and then stop reading
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", web.port))
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: test\r\n\r\n")
        viewers.append(sock)
    deadline = time.monotonic() + 10
    while web.hub.viewers < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert web.hub.viewers == 4

    frames = 300
    durations = []
    shown = threading.Event()

    def pipeline():
        for index in range(1, frames + 1):
            started = time.perf_counter()
            web.show(dataclasses.replace(result, frame=dataclasses.replace(result.frame, index=index)), renderer,
                     STATUS)
            durations.append(time.perf_counter() - started)
        shown.set()

    threading.Thread(target=pipeline, daemon=True).start()
    # Liveness, not speed: show() must return although every viewer's socket is full.
    assert shown.wait(120), f"show() blocked after {len(durations)} frames with stalled viewers"
    assert web.frames_encoded == frames  # once per frame for all four viewers
    received = read_parts(viewers[0], frames, time.monotonic() + 20)
    assert received and received[-1] == frames  # it catches up to the newest frame...
    assert len(received) < frames // 3  # ...skipping what it could not take, not replaying a queue
    print(f"show() with 4 stalled viewers: median {np.median(durations) * 1e3:.2f} ms, "
          f"max {max(durations) * 1e3:.2f} ms; slow viewer got {len(received)} of {frames} frames")
    for sock in viewers:
        sock.close()


def test_port_in_use_is_a_clear_error(web, result):
    second = open_display(DisplayConfig(type="web", web=WebDisplayConfig(port=web.port)))
    with pytest.raises(DisplayError, match=rf"cannot listen on 127.0.0.1:{web.port}.*display.web.port"):
        second.open(result.frame.size)


def test_a_reload_takes_over_the_port_the_old_display_is_releasing(web, result):
    successor = open_display(DisplayConfig(type="web", web=WebDisplayConfig(port=web.port)))
    closer = threading.Timer(0.3, web.close)
    closer.start()
    try:
        successor.open(result.frame.size)  # waits briefly for the port instead of failing
        with urllib.request.urlopen(successor.url + "status.json", timeout=5) as reply:
            assert json.load(reply) == {"viewers": 0}
    finally:
        closer.join()
        successor.close()


# ------------------------------------------------------------------ limits: viewers, connections, token, header
def web_display(result, **settings):
    display = open_display(DisplayConfig(type="web", web=WebDisplayConfig(port=free_port(), **settings)))
    display.open(result.frame.size)
    return display


def open_stream(display, path: str = "/stream.mjpg", headers: dict | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", display.port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    return connection.getresponse()


def test_streams_beyond_max_viewers_get_503_and_a_freed_slot_is_reused(result):
    display = web_display(result, max_viewers=2)
    try:
        with Feeder(display, result):
            first, second = open_stream(display), open_stream(display)
            assert first.status == second.status == 200
            assert first.read(7) == b"--frame"
            third = open_stream(display)
            assert third.status == 503 and third.getheader("Retry-After")
            assert b"max_viewers" in third.read()
            with urllib.request.urlopen(display.url + "status.json", timeout=5) as reply:
                assert reply.status == 200  # the page and status still answer
            first.close()
            deadline = time.monotonic() + 10
            while display.hub.viewers > 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            again = open_stream(display)
            assert again.status == 200 and again.read(7) == b"--frame"
            again.close()
            second.close()
    finally:
        display.close()


def test_a_connection_flood_costs_no_more_threads_than_the_cap(result):
    display = web_display(result, max_viewers=2)
    sockets = []
    try:
        before = threading.active_count()
        for _ in range(200):  # idle connections that never send a request
            sockets.append(socket.create_connection(("127.0.0.1", display.port), timeout=10))
        time.sleep(1.0)
        assert threading.active_count() - before <= 2 + 8, "one thread per connection"
        busy = 0
        for sock in sockets:
            sock.settimeout(0.01)
            with contextlib.suppress(TimeoutError):  # admitted: the server waits for its request
                busy += sock.recv(64).startswith(b"HTTP/1.0 503")
        assert busy >= 200 - (2 + 8), busy
        started = time.monotonic()
        for sock in sockets:
            sock.close()
        # The idle ones are dropped after the request timeout; then the display answers again.
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(display.url + "status.json", timeout=5) as reply:
                    assert reply.status == 200
                    break
            except urllib.error.HTTPError as exc:
                assert exc.code == 503 and time.monotonic() < deadline
                time.sleep(0.2)
        assert time.monotonic() - started < 15
    finally:
        for sock in sockets:
            sock.close()
        display.close()


def test_the_access_token_guards_page_stream_and_status(result):
    display = web_display(result, token="s3cret/+&")
    try:
        display.show(result, OverlayRenderer(OverlayConfig()), STATUS)
        for path in ("/", "/stream.mjpg", "/status.json", "/stream.mjpg?token=wrong"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(display.url.rstrip("/") + path, timeout=5)
            assert refused.value.code == 401, path
        with urllib.request.urlopen(display.url + "?token=s3cret%2F%2B%26", timeout=5) as reply:
            page = reply.read().decode()
        assert 'src="stream.mjpg?token=s3cret%2F%2B%26"' in page and '"status.json?token=s3cret%2F%2B%26"' in page
        with Feeder(display, result):
            stream = open_stream(display, "/stream.mjpg?token=s3cret%2F%2B%26")
            assert stream.status == 200 and stream.read(7) == b"--frame"
            stream.close()
            bearer = open_stream(display, "/status.json", {"Authorization": "Bearer s3cret/+&"})
            assert bearer.status == 200
    finally:
        display.close()


def test_server_header_names_no_python_version(result):
    display = web_display(result)
    try:
        with urllib.request.urlopen(display.url + "status.json", timeout=5) as reply:
            assert reply.headers["Server"] == "pose-appliance"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(display.url + "nothing", timeout=5)
        assert "Python" not in missing.value.headers["Server"]
    finally:
        display.close()


def test_binding_the_network_without_a_token_warns(result, caplog):
    display = web_display(result, bind="0.0.0.0")
    display.close()
    assert any("trusted network" in m and "display.web.token" in m for m in caplog.messages)


def test_a_viewer_that_hangs_up_right_after_its_request_is_uncounted_quietly(result, capsys):
    display = web_display(result, max_viewers=2)
    try:
        for _ in range(3):  # more hang-ups than max_viewers: a leaked count would lock everyone out
            sock = socket.create_connection(("127.0.0.1", display.port), timeout=10)
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends a reset
            sock.close()
        deadline = time.monotonic() + 10
        while display.hub.viewers and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the handler threads have finished
        assert display.hub.viewers == 0
        display.show(result, OverlayRenderer(OverlayConfig()), STATUS)
        assert display.frames_encoded == 0, "a JPEG was encoded for nobody"
        with Feeder(display, result):
            stream = open_stream(display)
            assert stream.status == 200 and stream.read(7) == b"--frame"
            stream.close()
    finally:
        display.close()
    assert "Traceback" not in capsys.readouterr().err


def test_a_viewer_that_leaves_while_no_frame_comes_frees_its_slot(result):
    """Between frames (a stalled camera, a slow model) a viewer who closes the page is noticed within seconds,
    not only when the next frame is sent."""
    display = web_display(result, max_viewers=1)
    try:
        stream = open_stream(display)  # no frame published: the handler waits for one
        assert stream.status == 200
        deadline = time.monotonic() + 5
        while display.hub.viewers != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert display.hub.viewers == 1
        stream.close()
        deadline = time.monotonic() + 5
        while display.hub.viewers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert display.hub.viewers == 0
    finally:
        display.close()


def ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback_works(), reason="this machine has no IPv6 loopback")
def test_ipv6_binds_listen_and_every_address_takes_ipv4_too(result):
    loopback = web_display(result, bind="::1")
    try:
        with urllib.request.urlopen(f"http://[::1]:{loopback.port}/status.json", timeout=5) as reply:
            assert reply.status == 200
        assert loopback.url == f"http://[::1]:{loopback.port}/"
    finally:
        loopback.close()
    everywhere = web_display(result, bind="::", token="t")
    try:
        for host in ("[::1]", "127.0.0.1"):  # dual-stack: IPv4 clients reach it too
            with urllib.request.urlopen(f"http://{host}:{everywhere.port}/status.json?token=t", timeout=5) as reply:
                assert reply.status == 200, host
    finally:
        everywhere.close()


def test_localhost_listens_on_ipv4_when_the_hosts_file_lists_ipv6_first(result, monkeypatch):
    """Raspberry Pi OS's /etc/hosts names both 127.0.0.1 and ::1 localhost, and resolvers may give ::1 first;
    "localhost" must still reach the page at 127.0.0.1 (IPv6 is for an IPv6 address as the bind)."""
    from pose_appliance.display import web_display as module

    resolve = socket.getaddrinfo

    def resolve_ipv6_first(host, port, family=0, type=0, proto=0, flags=0):
        if host != "localhost":
            return resolve(host, port, family, type, proto, flags)
        loopback = {socket.AF_INET6: (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
                    socket.AF_INET: (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))}
        return [loopback[family]] if family else [loopback[socket.AF_INET6], loopback[socket.AF_INET]]

    monkeypatch.setattr(module.socket, "getaddrinfo", resolve_ipv6_first)
    display = web_display(result, bind="localhost")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{display.port}/status.json", timeout=5) as reply:
            assert reply.status == 200
    finally:
        display.close()


def test_a_viewer_on_a_file_descriptor_above_1024_stays_while_no_frame_comes(result, capsys):
    """select() cannot watch a descriptor >= 1024 (a busy process, many open files): the "viewer left" check
    between frames must not fail there and drop a viewer who is still watching."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip("the open-files limit is below 1100")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    fillers = []
    display = web_display(result, max_viewers=1)
    try:
        with open("/dev/null") as null:
            while not fillers or fillers[-1] < 1030:  # the next accepted connection gets a descriptor above 1024
                fillers.append(os.dup(null.fileno()))
        stream = open_stream(display)  # no frame published: the handler checks the viewer every second
        assert stream.status == 200
        time.sleep(2.5)
        assert display.hub.viewers == 1, "a viewer still watching was dropped"
        with Feeder(display, result):
            assert stream.read(7) == b"--frame"
        stream.close()
    finally:
        display.close()
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert "Traceback" not in capsys.readouterr().err
