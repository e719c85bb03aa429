"""Pose, hold and repetition events to an MQTT broker (Home Assistant, Node-RED, any subscriber).

Topics under ``<topic_prefix>/<device>/``:
- ``availability``: "online" (retained) on every connect; "offline" as the last will and on a clean stop.
- ``state``: retained JSON (pose, score, hold_s, reps, exercise, fps, model, delegate) at once when the pose or
  the count changes, otherwise at most once a second while something else (hold_s, score, fps) moved.
- ``event``: JSON per pose_start / pose_end / rep (QoS 1, not retained).
- ``command``: "reset_reps" sets the repetition count to 0 (the Home Assistant button sends it).
Home Assistant discovery (retained): ``<discovery_prefix>/sensor/<device>_<x>/config`` for pose, score, hold,
reps and fps, and ``<discovery_prefix>/button/<device>_reset_reps/config``.

The broker is never in the frame path: ``offer`` stores the newest result and appends events to a bounded
queue (the oldest is dropped and counted when full), under a lock held for microseconds. paho's network thread
connects, reconnects with backoff (1 s doubling to 30 s) and delivers; this module's sender thread turns results
into messages while the link is up. Link changes are logged once each, not once per retry.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pose_appliance.config import MqttEventsConfig
from pose_appliance.events.event_sink import EventsError, event_document, state_document
from pose_appliance.types import ActivityEvent, FrameResult

log = logging.getLogger(__name__)

EVENT_QUEUE_SIZE = 256  # events kept while the broker is away; older ones are dropped and counted
STATE_INTERVAL = 1.0  # seconds between state messages when only hold_s, score or fps moved
RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY = 1, 30
KEEPALIVE = 30  # the broker sends the last will this long x 1.5 after a silent link (a killed process: at once)
CLOSE_TIMEOUT = 2.0
RESET_REPS = "reset_reps"
_DEVICE_CHARS = re.compile(r"[^A-Za-z0-9_-]")

# Home Assistant sensors: key, name, value template, extra discovery fields.
SENSORS: tuple[tuple[str, str, str, dict], ...] = (
    ("pose", "Pose", "{{ value_json.pose if value_json.pose else 'none' }}", {"icon": "mdi:human"}),
    ("score", "Pose score", "{{ (value_json.score * 100) | round(0) }}",
     {"unit_of_measurement": "%", "state_class": "measurement", "icon": "mdi:percent"}),
    ("hold", "Hold", "{{ value_json.hold_s }}",
     {"unit_of_measurement": "s", "device_class": "duration", "state_class": "measurement"}),
    ("reps", "Repetitions", "{{ value_json.reps }}", {"state_class": "total_increasing", "icon": "mdi:counter"}),
    ("fps", "Frame rate", "{{ value_json.fps }}",
     {"unit_of_measurement": "fps", "state_class": "measurement", "entity_category": "diagnostic"}),
)


@dataclass(frozen=True)
class Topics:
    availability: str
    state: str
    event: str
    command: str

    @classmethod
    def under(cls, prefix: str, device: str) -> Topics:
        base = f"{prefix}/{device}"
        return cls(f"{base}/availability", f"{base}/state", f"{base}/event", f"{base}/command")


def device_name(configured: str) -> str:
    """The device id in topics and Home Assistant ids: the configured one, or the host name made safe."""
    if configured:
        if _DEVICE_CHARS.search(configured):
            raise EventsError(f"events.mqtt.device: {configured!r} may contain only letters, digits, _ and - "
                              "(it is part of topics and Home Assistant ids)")
        return configured
    return _DEVICE_CHARS.sub("_", socket.gethostname()).lower() or "pose-appliance"


def check_topic_prefix(key: str, prefix: str, *, may_be_empty: bool = False) -> None:
    if not prefix and may_be_empty:
        return
    if not prefix or prefix.startswith("/") or prefix.endswith("/") or any(c in prefix for c in "+#\0"):
        raise EventsError(f"events.mqtt.{key}: {prefix!r} is not a usable topic prefix (no + or #, no leading "
                          "or trailing /, not empty)")


def read_password(mqtt_config: MqttEventsConfig) -> str | None:
    if not mqtt_config.password_file:
        return None
    if not mqtt_config.username:
        raise EventsError("events.mqtt.password_file is set but events.mqtt.username is empty (MQTT sends a "
                          "password only with a user name)")
    path = Path(mqtt_config.password_file).expanduser()
    try:
        return path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
    except OSError as exc:
        raise EventsError(f"events.mqtt.password_file: {path}: {exc.strerror or exc} (write the broker "
                          "password on its first line, readable by the service's user only)") from None


def discovery_messages(device: str, topics: Topics, discovery_prefix: str, version: str) -> list[tuple[str, dict]]:
    """(topic, payload) of the retained Home Assistant discovery configs for this device."""
    device_block = {"identifiers": [f"pose-appliance_{device}"], "name": device, "manufacturer": "pose-appliance",
                    "model": "pose-appliance", "sw_version": version}
    common = {"availability_topic": topics.availability, "payload_available": "online",
              "payload_not_available": "offline", "device": device_block,
              "origin": {"name": "pose-appliance", "sw_version": version}}
    messages = []
    for key, name, template, extra in SENSORS:
        payload = {"name": name, "unique_id": f"pose-appliance_{device}_{key}", "state_topic": topics.state,
                   "value_template": template, **extra, **common}
        messages.append((f"{discovery_prefix}/sensor/{device}_{key}/config", payload))
    button = {"name": "Reset repetitions", "unique_id": f"pose-appliance_{device}_reset_reps",
              "command_topic": topics.command, "payload_press": RESET_REPS, "icon": "mdi:restart", **common}
    messages.append((f"{discovery_prefix}/button/{device}_reset_reps/config", button))
    return messages


def _stop_network_thread(client: Any, timeout: float) -> None:
    """paho's ``loop_stop()``, but waiting at most ``timeout``: its unbounded join would wait out a connect
    attempt to a host that drops it (``connect_timeout``, 5 s). The thread is a daemon and ends after that."""
    client._thread_terminate = True
    thread = client._thread
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)
        if thread.is_alive():
            log.debug("MQTT: the network thread is still in a connect attempt; it ends when that gives up")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("pose-appliance")
    except PackageNotFoundError:
        return "0"


class MqttEventSink:
    """events.type = "mqtt". Made by ``create_event_sink``; ``start`` connects in the background."""

    name = "mqtt"

    def __init__(self, mqtt_config: MqttEventsConfig, *, on_command: Callable[[str], None] | None = None,
                 queue_size: int = EVENT_QUEUE_SIZE):
        check_topic_prefix("topic_prefix", mqtt_config.topic_prefix)
        check_topic_prefix("discovery_prefix", mqtt_config.discovery_prefix, may_be_empty=True)
        self.config = mqtt_config
        self.device = device_name(mqtt_config.device)
        self.topics = Topics.under(mqtt_config.topic_prefix, self.device)
        self.broker = f"{mqtt_config.host}:{mqtt_config.port}"
        self._password = read_password(mqtt_config)
        self._on_command = on_command
        self._wake = threading.Condition()
        self._latest: tuple[FrameResult, str, str] | None = None
        self._latest_key: tuple | None = None  # (pose, reps) of the newest result: a change is sent at once
        self._events: collections.deque[tuple[ActivityEvent, str]] = collections.deque(maxlen=queue_size)
        self.dropped_events = 0
        self._dropped_logged = 0
        self.connected = False
        self._closing = False
        self._resend_all = False
        self._link_state = ""
        self._client: Any = self._make_client()
        self._sender: threading.Thread | None = None
        self.sent: collections.Counter[str] = collections.Counter()
        self.last_state: dict | None = None  # the state document sent last

    def outdated(self) -> bool:
        """The password file now holds another password than this sink logs in with. A file that cannot be read
        now is not a reason: the running sink keeps the password it has (a changed events section reports it)."""
        try:
            return read_password(self.config) != self._password
        except EventsError:
            return False

    # --------------------------------------------------------------------------- called by the pipeline
    def offer(self, result: FrameResult, model_name: str, delegate: str) -> None:
        activity = result.activity
        key = (result.decision.label, activity.reps)
        with self._wake:
            self._latest = (result, model_name, delegate)
            if activity.events:
                now = datetime.now(UTC).isoformat(timespec="milliseconds")
                for event in activity.events:
                    if len(self._events) == self._events.maxlen:
                        self.dropped_events += 1
                    self._events.append((event, now))
            if activity.events or key != self._latest_key:
                self._latest_key = key
                self._wake.notify()

    # ------------------------------------------------------------------------- called by the main thread
    def start(self) -> None:
        self._set_link("connecting", logging.INFO, f"MQTT: connecting to {self.broker} as {self.device}")
        self._client.connect_async(self.config.host, self.config.port, keepalive=KEEPALIVE)
        self._client.loop_start()
        self._sender = threading.Thread(target=self._send_loop, name="events-mqtt", daemon=True)
        self._sender.start()

    def probe(self, timeout: float = 5.0) -> str | None:
        """Log in once with these settings (under another client id, so a running service stays connected);
        None when the broker accepted, else what went wrong (``doctor``)."""
        client = self._new_client(f"pose-appliance-{self.device}-check")
        client.connect_timeout = timeout
        answered = threading.Event()
        answer: list[Any] = []

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            answer.append(reason_code)
            answered.set()

        client.on_connect = on_connect
        try:
            client.connect(self.config.host, self.config.port, keepalive=10)
        except (OSError, ValueError) as exc:  # refused, no route, unknown host, TLS handshake
            return f"cannot reach {self.broker}: {exc}"
        client.loop_start()
        try:
            if not answered.wait(timeout):
                return f"{self.broker} did not answer the login within {timeout:g} s"
            if answer[0].is_failure:
                return f"{self.broker} refused the login: {answer[0]}"
            return None
        finally:
            client.disconnect()
            client.loop_stop()

    def _new_client(self, client_id: str) -> Any:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        if self.config.username:
            client.username_pw_set(self.config.username, self._password)
        if self.config.tls:
            client.tls_set()
        return client

    def _make_client(self) -> Any:
        client = self._new_client(f"pose-appliance-{self.device}")
        client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Say "offline" (retained) if connected, disconnect, stop the threads. Waits at most ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._sender is not None:
            self._sender.join(timeout)
        client, self._client = self._client, None
        if client is None or self._sender is None:
            return
        if self.connected:
            try:
                info = client.publish(self.topics.availability, "offline", qos=1, retain=True)
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:  # the link went away meanwhile: the will says it
                log.debug("MQTT: offline not confirmed: %s", exc)
        client.disconnect()
        _stop_network_thread(client, max(0.0, deadline - time.monotonic()))
        self.connected = False

    def threads(self) -> list[threading.Thread]:
        """The threads doing this sink's work (its sender, paho's network loop), for measuring their CPU time."""
        found = [self._sender, getattr(self._client, "_thread", None)]
        return [t for t in found if isinstance(t, threading.Thread) and t.is_alive()]

    # ---------------------------------------------------------------------------- paho's network thread
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._set_link(f"refused {reason_code}", logging.ERROR,
                           f"MQTT: {self.broker} refused the connection: {reason_code} (check events.mqtt."
                           "username and password_file; retrying with backoff)")
            return
        client.publish(self.topics.availability, "online", qos=1, retain=True)
        if self.config.discovery_prefix:
            version = _version()
            for topic, payload in discovery_messages(self.device, self.topics, self.config.discovery_prefix,
                                                     version):
                client.publish(topic, json.dumps(payload), qos=1, retain=True)
        client.subscribe(self.topics.command, qos=1)
        with self._wake:
            self.connected = True
            self._resend_all = True
            self._wake.notify()
        self._set_link("connected", logging.INFO, f"MQTT: connected to {self.broker}, topics "
                       f"{self.config.topic_prefix}/{self.device}/...")

    def _on_connect_fail(self, client, userdata) -> None:
        if self._closing:
            return
        self._set_link("unreachable", logging.WARNING,
                       f"MQTT: cannot reach {self.broker} (check events.mqtt.host/port and that the broker runs); "
                       f"retrying every {RECONNECT_MIN_DELAY}-{RECONNECT_MAX_DELAY} s, frames are not affected")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._wake:
            was_connected, self.connected = self.connected, False
        if was_connected and not self._closing:
            self._set_link("lost", logging.WARNING, f"MQTT: lost the connection to {self.broker} ({reason_code}); "
                           f"reconnecting with backoff, up to {self._events.maxlen} events are kept meanwhile")

    def _on_message(self, client, userdata, message) -> None:
        command = message.payload.decode("utf-8", "replace").strip()
        if command == RESET_REPS and self._on_command is not None:
            log.info("MQTT: %s received", command)
            self._on_command(command)
        else:
            log.warning("MQTT: unknown command %r on %s (known: %s)", command[:40], message.topic, RESET_REPS)

    def _set_link(self, state: str, level: int, message: str) -> None:
        if state != self._link_state:
            self._link_state = state
            log.log(level, message)

    # --------------------------------------------------------------------------------- the sender thread
    def _send_loop(self) -> None:
        last_state: dict | None = None
        last_sent_at = 0.0
        while True:
            with self._wake:
                while True:
                    if self._closing:
                        return
                    now = time.monotonic()
                    wait: float | None = None
                    if self.connected:
                        if self._resend_all:
                            last_state, self._resend_all = None, False
                        if self._events:
                            break
                        if self._latest is not None:
                            state = state_document(*self._latest)
                            if last_state is None or _key(state) != _key(last_state):
                                break
                            due = last_sent_at + STATE_INTERVAL - now
                            if state != last_state and due <= 0:
                                break
                            wait = due if due > 0 else STATE_INTERVAL
                    self._wake.wait(wait)
                events = list(self._events)
                self._events.clear()
                dropped = self.dropped_events - self._dropped_logged
                self._dropped_logged = self.dropped_events
                latest = self._latest
            if dropped:
                log.warning("MQTT: %d events dropped while the broker was away (queue of %d)", dropped,
                            self._events.maxlen)
            client = self._client
            if client is None:
                return
            for event, wall_time in events:
                client.publish(self.topics.event, json.dumps(event_document(event, wall_time)), qos=1)
                self.sent["event"] += 1
            if latest is not None:
                state = state_document(*latest)
                if state != last_state:
                    client.publish(self.topics.state, json.dumps(state), qos=0, retain=True)
                    self.sent["state"] += 1
                    last_state, last_sent_at = state, time.monotonic()
                    self.last_state = state


def _key(state: dict) -> tuple:
    return state["pose"], state["reps"], state["exercise"]
