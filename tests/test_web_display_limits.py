"""The web display under load and on a network, over real HTTP connections: streams capped by
display.web.max_viewers, a connection flood answered 503 without a thread each, an optional access token,
and no Python version in the Server header."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from test_display_web import STATUS, Feeder, free_port
from test_render import real_result

from pose_appliance.config import DisplayConfig, OverlayConfig, WebDisplayConfig
from pose_appliance.display import open_display
from pose_appliance.render import OverlayRenderer


@pytest.fixture(scope="module")
def result(shared):
    return real_result(shared)


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
            try:
                busy += sock.recv(64).startswith(b"HTTP/1.0 503")
            except TimeoutError:
                pass  # admitted: the server waits for its request
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
