"""Talking to systemd as a ``Type=notify`` service, without libsystemd: the sd_notify(3) datagram protocol.

systemd passes ``NOTIFY_SOCKET`` (a socket path, or ``@name`` for the abstract namespace) and, with
``WatchdogSec=``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``. Each notification is one datagram of
``KEY=VALUE`` lines. Outside systemd every method is a no-op, so the appliance runs the same in a terminal.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Readiness, reload, stop, status and watchdog notifications to the service manager.

    ``watchdog_interval`` is systemd's watchdog timeout in seconds (``WatchdogSec=``), or None when the
    watchdog is off or meant for another process. Call ``watchdog()`` at least twice per interval, and only
    while the work really progresses: a stalled pipeline must go silent so systemd restarts the service.
    """

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.socket_name = env.get("NOTIFY_SOCKET", "")
        self.address = _socket_address(self.socket_name)
        self.watchdog_interval = _watchdog_interval(env) if self.address is not None else None
        self._socket: socket.socket | None = None
        self._failed = False
        if self.address is not None:
            import socket  # only under systemd: a run in a terminal does not load it (start-up time)

            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a notification socket."""
        return self._socket is not None

    def ready(self) -> None:
        """Start-up (or a reload) is complete and the service does its job."""
        self.notify("READY=1")

    def reloading(self) -> None:
        """A reload begins; follow with ready() when it is done (or rejected).

        MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) tell this reload from an earlier one; older
        systemd and Type=notify ignore it.
        """
        self.notify("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def watchdog(self) -> None:
        """Keep-alive ping; sent only when systemd armed a watchdog for this process."""
        if self.watchdog_interval is not None:
            self.notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        """One line shown by ``systemctl status``."""
        self.notify("STATUS=" + " ".join(text.splitlines()))

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram. False when not under systemd or the send failed."""
        if self._socket is None or self.address is None:
            return False
        try:
            self._socket.sendto("\n".join(assignments).encode(), self.address)
        except OSError as exc:
            if not self._failed:  # a gone manager must not flood the log or stop the appliance
                log.warning("systemd notification to %s failed: %s", self.socket_name, exc)
                self._failed = True
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> SystemdNotifier:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _socket_address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    log.warning("ignoring NOTIFY_SOCKET=%r: neither a path nor @abstract", value)
    return None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None  # the watchdog belongs to another process (e.g. a wrapper that exec'd us differently)
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1e6 if usec > 0 else None
