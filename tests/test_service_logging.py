"""setup_logging: journald when stderr is the journal stream, sd-daemon prefixes without systemd-python,
plain lines in a terminal."""

from __future__ import annotations

import logging
import os
import sys
import types

import pytest

from pose_appliance.service.logging import HANDLER_NAME, setup_logging


@pytest.fixture
def clean_root():
    root = logging.getLogger()
    level = root.level
    yield root
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def stderr_file(tmp_path, monkeypatch):
    """stderr redirected to a file, as systemd connects it to the journal's stream socket.

    Call it in the test body: pytest's own capture sets sys.stderr again when the test call starts.
    """
    streams = []

    def redirect():
        path = tmp_path / "stderr"
        stream = open(path, "w+", buffering=1)  # noqa: SIM115 (the fixture closes it at teardown)
        streams.append(stream)
        monkeypatch.setattr(sys, "stderr", stream)
        return path, stream

    yield redirect
    for stream in streams:
        stream.close()


def journal_stream(stream) -> str:
    st = os.fstat(stream.fileno())
    return f"{st.st_dev}:{st.st_ino}"


def no_systemd_python(monkeypatch):
    monkeypatch.setitem(sys.modules, "systemd", None)
    monkeypatch.setitem(sys.modules, "systemd.journal", None)


def test_terminal_gets_level_name_message(clean_root, stderr_file, monkeypatch):
    path, _ = stderr_file()
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    setup_logging("info")
    logging.getLogger("pose_appliance.app").info("model %s on %s", "movenet", "cpu")
    logging.getLogger("pose_appliance.app").debug("per-frame detail")
    assert path.read_text() == "INFO pose_appliance.app: model movenet on cpu\n"


def test_journal_stream_without_systemd_python_uses_priority_prefixes(clean_root, stderr_file, monkeypatch):
    path, stream = stderr_file()
    no_systemd_python(monkeypatch)
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream(stream))
    setup_logging("debug")
    log = logging.getLogger("pose_appliance.app")
    log.error("camera gone")
    log.warning("display retry")
    log.info("reloaded")
    log.debug("detail")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("reload failed")
    lines = path.read_text().splitlines()
    assert lines[:5] == ["<3>pose_appliance.app: camera gone", "<4>pose_appliance.app: display retry",
                         "<6>pose_appliance.app: reloaded", "<7>pose_appliance.app: detail",
                         "<3>pose_appliance.app: reload failed"]
    assert len(lines) > 6 and all(line.startswith("<3>") for line in lines[5:])  # the traceback too
    assert lines[-1] == "<3>ValueError: boom"


def test_a_journal_stream_of_another_file_means_terminal(clean_root, stderr_file, monkeypatch, tmp_path):
    path, _ = stderr_file()
    no_systemd_python(monkeypatch)
    other = tmp_path / "other"
    other.write_text("")
    st = os.stat(other)
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")  # stdout to journal, stderr redirected
    setup_logging("info")
    logging.getLogger("x").warning("careful")
    assert path.read_text() == "WARNING x: careful\n"


def test_journal_handler_when_systemd_python_is_there(clean_root, stderr_file, monkeypatch):
    _, stream = stderr_file()
    sent = []

    class JournalHandler(logging.Handler):  # systemd.journal's API: extra fields as keyword arguments
        def __init__(self, level=logging.NOTSET, **fields):
            super().__init__(level)
            self.fields = fields

        def emit(self, record):
            sent.append((record.levelno, record.getMessage(), self.fields))

    journal = types.ModuleType("systemd.journal")
    journal.JournalHandler = JournalHandler
    package = types.ModuleType("systemd")
    package.journal = journal
    monkeypatch.setitem(sys.modules, "systemd", package)
    monkeypatch.setitem(sys.modules, "systemd.journal", journal)
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream(stream))
    handler = setup_logging("warning")
    assert isinstance(handler, JournalHandler)
    logging.getLogger("pose_appliance").info("quiet")
    logging.getLogger("pose_appliance").warning("loud")
    assert sent == [(logging.WARNING, "loud", {"SYSLOG_IDENTIFIER": "pose-appliance"})]


def test_calling_again_replaces_the_handler_and_level(clean_root, stderr_file, monkeypatch):
    path, _ = stderr_file()
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    setup_logging("info")
    setup_logging("warning")  # a reload that changed service.log_level
    ours = [h for h in clean_root.handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1
    logging.getLogger("x").info("hidden")
    logging.getLogger("x").warning("shown")
    assert path.read_text() == "WARNING x: shown\n"
