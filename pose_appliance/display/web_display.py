"""Browser target: an MJPEG stream (/stream.mjpg), a status page (/) and /status.json, served by the stdlib.

The pipeline's ``show`` never waits for a viewer: it draws and encodes one JPEG per frame (only while someone
watches the stream) and publishes it in a one-slot hub. Each viewer's own server thread sends the newest JPEG
whenever its socket can take one, so a slow viewer skips frames instead of building a queue, and a hundred viewers
cost the pipeline the same as one.

It is meant for a trusted network: plain HTTP, no TLS. Streams are capped at ``display.web.max_viewers`` and
connections at a few more (each is a thread); the rest get 503 at once. With ``display.web.token`` set, every
request must carry it (``?token=`` or ``Authorization: Bearer``); the page passes it on to its stream.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import html
import ipaddress
import json
import logging
import select
import socket
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from pose_appliance.config import WebDisplayConfig
from pose_appliance.display.compositor import Compositor
from pose_appliance.display.display import Display, DisplayError
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult

log = logging.getLogger(__name__)

BOUNDARY = "frame"
VIEWER_SEND_BUFFER = 256 * 1024  # bytes the kernel may hold for one viewer: a few frames at most, not seconds
BIND_PATIENCE = 1.0  # seconds to wait for a port the previous web display is releasing
VIEWER_TIMEOUT = 30.0  # a viewer whose socket takes nothing for this long is dropped
EXTRA_CONNECTIONS = 8  # connections beyond the streams: page loads and status.json polls (they are short)
REQUEST_TIMEOUT = 5.0  # a connection that has not sent its request by then is dropped
STATUS_FIELDS = (("label", "Pose"), ("label_score", "Score"), ("hold_s", "Held (s)"), ("reps", "Repetitions"),
                 ("fps", "Shown fps"), ("model_fps", "Model fps"), ("model", "Model"), ("delegate", "Delegate"),
                 ("frames", "Frames"), ("dropped", "Dropped"))
RATE_FIELDS = ("fps", "model_fps")


class LatestJpeg:
    """One slot holding the newest JPEG; viewers wait for one newer than the last they sent."""

    def __init__(self):
        self._changed = threading.Condition()
        self._jpeg: bytes | None = None
        self._frame_index = -1
        self.sequence = 0
        self.viewers = 0
        self.closed = False

    def publish(self, jpeg: bytes, frame_index: int) -> None:
        with self._changed:
            self._jpeg, self._frame_index = jpeg, frame_index
            self.sequence += 1
            self._changed.notify_all()

    def newer_than(self, sequence: int, timeout: float) -> tuple[int, bytes, int] | None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.closed or self.sequence > sequence, timeout) or self.closed:
                return None
            jpeg = self._jpeg
            if jpeg is None:  # sequence > 0 means a frame was published
                return None
            return self.sequence, jpeg, self._frame_index

    def add_viewer(self, limit: int) -> bool:
        """Count one more viewer unless ``limit`` are watching already."""
        with self._changed:
            if self.viewers >= limit:
                return False
            self.viewers += 1
            return True

    def remove_viewer(self) -> None:
        with self._changed:
            self.viewers -= 1

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()


class WebDisplay(Display):
    name = "web"

    def __init__(self, web_config: WebDisplayConfig, *, camera: Any = None):
        self.bind = web_config.bind
        self.port = web_config.port
        self.jpeg_quality = web_config.jpeg_quality
        self.max_viewers = web_config.max_viewers
        self.token = web_config.token
        self.hub = LatestJpeg()
        self.status: dict = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._compositor = Compositor()
        self._bgr: np.ndarray | None = None
        self.frames_encoded = 0

    @property
    def url(self) -> str:
        """The address to type in a browser (this machine's name when listening on every address)."""
        host = socket.gethostname() if self.bind in ("0.0.0.0", "::", "") else self.bind
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    def open(self, frame_size: tuple[int, int]) -> None:
        handler = type("Handler", (_Handler,), {"display": self})
        try:
            server = _listen((self.bind, self.port), handler)
        except OSError as exc:
            raise DisplayError(f"display.web: cannot listen on {self.bind}:{self.port}: {exc.strerror or exc} "
                               f"(set display.web.port to a free port, or display.web.bind to an address "
                               f"of this machine)") from None
        server.max_connections = self.max_viewers + EXTRA_CONNECTIONS
        self._server = server
        self.port = server.server_address[1]
        self._compositor.fit(frame_size)
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="web-display", daemon=True)
        self._thread.start()
        # On stdout, the one line a user running it by hand needs (the journal gets it too under systemd); the
        # token is not written out.
        print(f"serving {self.url}" + (" (add ?token= and display.web.token)" if self.token else ""), flush=True)
        log.debug("web display: status page %s, stream %sstream.mjpg", self.url, self.url)
        if not self.token and not is_loopback(self.bind):
            log.warning("web display: %s is reachable from the network without a token; anyone there can watch "
                        "(set display.web.token, and use it only on a trusted network)", self.bind)

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
        import cv2

        self.status = status
        if self.hub.viewers == 0:
            return
        canvas = self._compositor.compose(result, renderer)
        if self._bgr is None or self._bgr.shape != canvas.shape:
            self._bgr = np.empty_like(canvas)
        cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR, dst=self._bgr)
        ok, jpeg = cv2.imencode(".jpg", self._bgr, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise DisplayError("display.web: OpenCV could not encode a JPEG")
        self.frames_encoded += 1
        self.hub.publish(jpeg.tobytes(), result.frame.index)

    def close(self) -> None:
        self.hub.close()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def status_document(self) -> dict:
        return {**self.status, "viewers": self.hub.viewers}


def is_loopback(address: str) -> bool:
    """Whether ``display.web.bind`` serves this machine only."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def _listen(address: tuple[str, int], handler: type) -> _Server:
    family, socket_address = listen_address(*address)
    deadline = time.monotonic() + BIND_PATIENCE
    while True:
        try:
            return _Server(socket_address, handler, family=family)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # after a config reload the previous web display may still be closing


def listen_address(host: str, port: int) -> tuple[socket.AddressFamily, tuple]:
    """The socket family and address for ``display.web.bind``: IPv6 for an IPv6 address, else IPv4. A name is
    resolved to IPv4: "localhost" may resolve to ::1 first (Raspberry Pi OS's /etc/hosts), and listening there
    only would leave http://127.0.0.1 unanswered."""
    if not host:
        return socket.AF_INET, ("", port)
    family = socket.AF_INET6 if _is_ipv6_address(host) else socket.AF_INET
    family, _, _, _, socket_address = socket.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    return family, socket_address


def _is_ipv6_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    """One thread per connection, but at most ``max_connections``: the rest are answered 503 by the accepting
    thread itself and closed, so a flood of connections costs no threads."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # a burst of connections is accepted (and refused) at once, not left to SYN retries
    max_connections = 16

    def __init__(self, *args: Any, family: socket.AddressFamily = socket.AF_INET, **kwargs: Any):
        self.address_family = family
        super().__init__(*args, **kwargs)
        self._slots = threading.Lock()
        self._active = 0
        self.refused = 0

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6 and ipaddress.ip_address(str(self.server_address[0])).is_unspecified:
            # "::" means every address: IPv4 clients too, where the system allows one socket for both.
            with contextlib.suppress(OSError):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._slots:
            admitted = self._active < self.max_connections
            self._active += int(admitted)
        if not admitted:
            self.refused += 1
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._slots:
            self._active -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # the client hung up or stopped reading: no traceback for that
            log.debug("web display %s: connection ended: %s", client_address, error)
            return
        super().handle_error(request, client_address)


def _refuse_busy(request: socket.socket) -> None:
    body = b"busy: too many viewers, try again later\n"
    reply = (b"HTTP/1.0 503 Service Unavailable\r\nServer: " + _Handler.server_version.encode() +
             b"\r\nContent-Type: text/plain\r\nRetry-After: 10\r\nConnection: close\r\nContent-Length: " +
             str(len(body)).encode() + b"\r\n\r\n" + body)
    try:
        request.setblocking(False)  # a reply this small fits the socket buffer; a stuck client cannot block us
        request.send(reply)
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    display: WebDisplay  # set on the subclass each WebDisplay makes
    server_version = "pose-appliance"
    timeout = REQUEST_TIMEOUT  # until the request is read; a stream then waits up to VIEWER_TIMEOUT

    def version_string(self) -> str:
        return self.server_version  # no Python version for the network to see

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if not self._authorized(query):
            self.send_error(HTTPStatus.UNAUTHORIZED, "add ?token=... (display.web.token)")
            return
        if path == "/stream.mjpg":
            self._stream()
        elif path == "/status.json":
            body = json.dumps(self.display.status_document(), default=str).encode()
            self._reply(body, "application/json")
        elif path in ("/", "/index.html"):
            page = _page(self.display.status_document(), self.display.url, self.display.token)
            self._reply(page.encode(), "text/html; charset=utf-8")
        else:
            self.send_error(HTTPStatus.NOT_FOUND, "try / or /stream.mjpg")

    def _authorized(self, query: str) -> bool:
        token = self.display.token
        if not token:
            return True
        offered = urllib.parse.parse_qs(query).get("token", [""])[-1]
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            offered = offered or header[len("Bearer "):].strip()
        return hmac.compare_digest(offered.encode(), token.encode())

    def _reply(self, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        hub = self.display.hub
        if not hub.add_viewer(self.display.max_viewers):
            self.send_response(HTTPStatus.SERVICE_UNAVAILABLE)
            self.send_header("Retry-After", "10")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(f"busy: {self.display.max_viewers} viewers already (display.web.max_viewers)\n"
                             .encode())
            return
        try:
            self.connection.settimeout(VIEWER_TIMEOUT)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, VIEWER_SEND_BUFFER)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            sequence = 0
            while not hub.closed:
                newest = hub.newer_than(sequence, timeout=1.0)
                if newest is None:
                    if self._viewer_left():
                        break
                    continue
                sequence, jpeg, frame_index = newest
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
                                 f"X-Frame-Index: {frame_index}\r\n\r\n".encode() + jpeg + b"\r\n")
        except OSError as exc:
            self.close_connection = True
            log.debug("web display %s: stream ended: %s", self.address_string(), exc)  # the viewer left
        finally:
            hub.remove_viewer()

    def _viewer_left(self) -> bool:
        """A viewer sends nothing after its request, so a readable socket means it hung up (end of stream or a
        reset). Checked while no frame comes, so a viewer gone then does not hold its slot until the next frame."""
        try:
            poller = select.poll()  # not select.select: it refuses descriptors >= 1024
            poller.register(self.connection, select.POLLIN)
            return bool(poller.poll(0)) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("web display %s: " + format, self.address_string(), *args)


def _page(status: dict, url: str, token: str = "") -> str:
    rows = "\n".join(f'<tr><th>{title}</th><td id="{key}">{html.escape(_format(key, status.get(key)))}</td></tr>'
                     for key, title in STATUS_FIELDS)
    query = "?" + urllib.parse.urlencode({"token": token}) if token else ""  # percent-encoded: safe in HTML and JS
    return (_PAGE.replace("{rows}", rows).replace("{url}", html.escape(url))
            .replace('"stream.mjpg"', f'"stream.mjpg{query}"').replace('"status.json"', f'"status.json{query}"'))


def _format(key: str, value: Any) -> str:
    if value is None or value == "":
        return "-"
    if key == "label_score":
        return f"{float(value):.0%}"
    if key in RATE_FIELDS:
        return f"{float(value):.1f}"
    return str(value)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>pose-appliance</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { margin: 0; background: #111; color: #eee; font: 16px system-ui, sans-serif; }
main { display: flex; flex-wrap: wrap; align-items: flex-start; }
img { display: block; flex: 0 1 auto; max-width: 100%; background: #000; }
aside { flex: 1 0 240px; padding: 12px 20px; }
h1 { font-size: 18px; margin: 0 0 8px; }
th { text-align: left; font-weight: normal; color: #999; padding: 2px 16px 2px 0; }
td { font-weight: bold; overflow-wrap: anywhere; }
.note { color: #999; font-size: 13px; max-width: 36em; }
.address { margin: 0 0 10px; color: #999; } .address a { color: #8cf; }
#label { color: #ff3030; font-size: 22px; }
</style></head>
<body><main>
<img src="stream.mjpg" alt="camera with the pose overlay">
<aside><h1>pose-appliance</h1>
<p class="address">serving <a href="{url}">{url}</a></p>
<table>
{rows}
</table>
<p class="note">Shown fps: pictures this page gets per second (last 2 s).<br>Model fps: how fast the model alone
runs (1 / its time per frame); the picture cannot go faster than this nor than the camera.</p></aside>
</main>
<script>
function show(status) {
  for (const [key, value] of Object.entries(status)) {
    const cell = document.getElementById(key);
    if (!cell) continue;
    let text = value === null || value === "" ? "-" : String(value);
    if (key === "label_score" && value !== null) text = Math.round(value * 100) + "%";
    if ((key === "fps" || key === "model_fps") && value !== null) text = Number(value).toFixed(1);
    cell.textContent = text;
  }
}
setInterval(() => fetch("status.json").then(r => r.json()).then(show).catch(() => {}), 1000);
</script>
</body></html>
"""
