"""SignalWaker with real signals sent to this test process."""

from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

from pose_appliance.service import SignalWaker


@pytest.fixture
def waker():
    w = SignalWaker()
    yield w
    w.close()


def kill_later(signum: int, delay: float = 0.1) -> threading.Timer:
    timer = threading.Timer(delay, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_sighup_is_a_reload(waker, caplog):
    with caplog.at_level(logging.INFO):
        os.kill(os.getpid(), signal.SIGHUP)
        assert waker.wait(5) == {"reload"}
    assert not waker.stop_requested
    assert "SIGHUP received: reload" in caplog.text


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_wake_a_blocked_wait(waker, signum):
    timer = kill_later(signum)
    assert waker.wait(30) == {"stop"}  # returns on the signal, long before the timeout
    timer.join()
    assert waker.stop_requested
    assert waker.wait(0) == set()  # events are delivered once; the stop flag stays
    assert waker.stop_requested


def test_events_that_arrive_together_come_out_together(waker):
    os.kill(os.getpid(), signal.SIGHUP)
    os.kill(os.getpid(), signal.SIGTERM)
    assert waker.wait(5) == {"reload", "stop"}


def test_timeout_without_signal_returns_nothing(waker):
    assert waker.wait(0.05) == set()
    assert not waker.stop_requested


def test_close_restores_previous_handlers():
    seen = []
    mine = lambda signum, frame: seen.append(signum)  # noqa: E731
    before = {s: signal.signal(s, mine) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        waker = SignalWaker()
        assert signal.getsignal(signal.SIGTERM) is not mine
        waker.close()
        waker.close()
        assert signal.getsignal(signal.SIGTERM) is mine and signal.getsignal(signal.SIGHUP) is mine
        os.kill(os.getpid(), signal.SIGHUP)
        signal.pthread_sigmask(signal.SIG_BLOCK, [])  # a bytecode boundary for the handler to run at
        assert seen == [signal.SIGHUP]
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_must_be_created_in_the_main_thread():
    errors = []

    def create():
        try:
            SignalWaker()
        except RuntimeError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=create)
    thread.start()
    thread.join()
    assert errors and "main thread" in errors[0]


def test_wake_from_another_thread_ends_a_wait_at_once(waker):
    import time

    threading.Timer(0.05, waker.wake).start()
    started = time.monotonic()
    assert waker.wait(5.0) == set()
    assert time.monotonic() - started < 1.0  # woken, not timed out
    assert not waker.stop_requested
