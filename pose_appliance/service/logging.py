"""Where log lines go: the journal under systemd, plain lines in a terminal.

systemd sets ``JOURNAL_STREAM=<device>:<inode>`` for the stream it connected to stdout/stderr. When that is
our stderr, records go to journald: structured through ``systemd.journal.JournalHandler`` when
systemd-python is importable (Pi OS: apt ``python3-systemd``, seen by a ``--system-site-packages`` venv),
else as lines with sd-daemon priority prefixes (``<3>`` error ... ``<7>`` debug) that journald parses.
The journal adds its own timestamps, so neither form repeats them.
"""

from __future__ import annotations

import logging
import os
import sys

# sd-daemon(3) / syslog priorities.
PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}
IDENTIFIER = "pose-appliance"
HANDLER_NAME = "pose_appliance"  # the handler setup_logging installed, replaced when it runs again


class PriorityPrefixFormatter(logging.Formatter):
    """``<N>name: message``; every line of a multi-line record (a traceback) carries the prefix."""

    def __init__(self):
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def priority(levelno: int) -> int:
    for level in sorted(PRIORITY, reverse=True):
        if levelno >= level:
            return PRIORITY[level]
    return 7


def stderr_is_journal(environ=None) -> bool:
    env = os.environ if environ is None else environ
    device, _, inode = env.get("JOURNAL_STREAM", "").partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
        return (st.st_dev, st.st_ino) == (int(device), int(inode))
    except (ValueError, OSError, AttributeError):
        return False


def setup_logging(level: str | int = "info") -> logging.Handler:
    """Configure the root logger (again: a reload may change the level). Returns the handler in use."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    if stderr_is_journal():
        handler = _journal_handler() or _stderr_handler(PriorityPrefixFormatter())
    else:
        handler = _stderr_handler(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.set_name(HANDLER_NAME)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler


def _stderr_handler(formatter: logging.Formatter) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    return handler


def _journal_handler() -> logging.Handler | None:
    try:
        from systemd.journal import JournalHandler
    except ImportError:
        return None
    return JournalHandler(SYSLOG_IDENTIFIER=IDENTIFIER)
