"""A real Mosquitto for the tests (127.0.0.1, a free port, a temporary config) and a real subscriber."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MosquittoBroker:
    """``mosquitto -c <tmp config>`` on 127.0.0.1:<free port>; ``stop``/``start`` keep the port (a restart)."""

    def __init__(self, folder: Path, *, users: dict[str, str] | None = None):
        if shutil.which("mosquitto") is None:
            pytest.fail("mosquitto is not installed: apt-get install mosquitto mosquitto-clients "
                        "(scripts/test does it when run as root)")
        self.folder = folder
        self.port = free_port()
        self.log = folder / "mosquitto.log"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", f"log_dest file {self.log}",
                 "log_type all"]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to user mosquitto, who cannot read pytest's tmp folders
        if users:
            passwords = folder / "passwords"
            passwords.touch(mode=0o600)
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True,
                               capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class MqttWatcher:
    """A paho subscriber that keeps every message it gets (retained ones included) for the assertions."""

    def __init__(self, port: int, topic: str = "#", *, username: str | None = None, password: str | None = None):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self._changed = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_connect = lambda client, *args: client.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(5):
            raise RuntimeError("the test subscriber could not subscribe")

    def _on_message(self, client, userdata, message) -> None:
        with self._changed:
            self.messages.append((message.topic, message.payload, bool(message.retain)))
            self._changed.notify_all()

    def payloads(self, topic: str) -> list[bytes]:
        with self._changed:
            return [payload for t, payload, _ in self.messages if t == topic]

    def json(self, topic: str) -> list[dict]:
        return [json.loads(p) for p in self.payloads(topic)]

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "a message") -> None:
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                got = "\n".join(f"{t} {p[:120]!r}" for t, p, _ in self.messages[-20:])
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; last messages:\n{got}")

    def wait_payload(self, topic: str, payload: bytes, timeout: float = 10.0) -> None:
        self.wait_for(lambda: any(t == topic and p == payload for t, p, _ in self.messages), timeout,
                      f"{payload!r} on {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
