"""SystemdNotifier against a real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET."""

from __future__ import annotations

import logging
import os
import socket
import time

import pytest

from pose_appliance.service import SystemdNotifier


@pytest.fixture
def notify_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    yield str(path), sock
    sock.close()


def received(sock) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_status_stopping_reach_the_socket(notify_socket):
    path, sock = notify_socket
    with SystemdNotifier({"NOTIFY_SOCKET": path}) as notifier:
        assert notifier.enabled
        notifier.ready()
        notifier.status("12.5 fps, model movenet\non cpu")
        notifier.stopping()
    assert received(sock) == ["READY=1"]
    assert received(sock) == ["STATUS=12.5 fps, model movenet on cpu"]  # one line, as systemctl shows it
    assert received(sock) == ["STOPPING=1"]


def test_reloading_carries_the_monotonic_clock(notify_socket):
    path, sock = notify_socket
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    SystemdNotifier({"NOTIFY_SOCKET": path}).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    lines = received(sock)
    assert lines[0] == "RELOADING=1"
    key, _, value = lines[1].partition("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after


def test_abstract_socket_name():
    name = f"pose-appliance-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert received(sock) == ["READY=1"]


def test_watchdog_interval_and_pings(notify_socket):
    path, sock = notify_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000",
                                "WATCHDOG_PID": str(os.getpid())})
    assert notifier.watchdog_interval == 3.0
    notifier.watchdog()
    assert received(sock) == ["WATCHDOG=1"]


def test_no_watchdog_pings_without_watchdog(notify_socket):
    path, sock = notify_socket
    for env in ({"NOTIFY_SOCKET": path},
                {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid() + 1)},
                {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "0"},
                {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "soon"}):
        notifier = SystemdNotifier(env)
        assert notifier.watchdog_interval is None, env
        notifier.watchdog()
    notifier.ready()  # the first datagram to arrive must be this one, not a ping
    assert received(sock) == ["READY=1"]


def test_outside_systemd_everything_is_a_no_op():
    notifier = SystemdNotifier({"WATCHDOG_USEC": "3000000"})
    assert not notifier.enabled and notifier.watchdog_interval is None
    notifier.ready(), notifier.reloading(), notifier.watchdog(), notifier.status("x"), notifier.stopping()
    assert notifier.notify("READY=1") is False
    assert SystemdNotifier({"NOTIFY_SOCKET": "relative/path"}).enabled is False


def test_a_vanished_socket_is_reported_once_and_not_fatal(tmp_path, caplog):
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone"), "WATCHDOG_USEC": "1000000"})
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            notifier.watchdog()
        assert notifier.notify("READY=1") is False
    warnings = [r for r in caplog.records if "notification" in r.getMessage()]
    assert len(warnings) == 1 and "gone" in warnings[0].getMessage()
