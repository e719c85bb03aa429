"""Fakes of hardware libraries at their API boundary (picamera2/libcamera, ...).

``tests/`` is on ``sys.path`` while pytest runs (rootdir conftest), so tests import ``from fakes import picamera2``.
"""
