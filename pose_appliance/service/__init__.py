"""Running as a systemd service: notifications, signals, logging, and the ``doctor`` check."""

from pose_appliance.service.logging import setup_logging
from pose_appliance.service.signals import SignalWaker
from pose_appliance.service.systemd import SystemdNotifier

__all__ = ["SignalWaker", "SystemdNotifier", "setup_logging"]
