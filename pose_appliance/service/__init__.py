"""Running as a systemd service: notifications, signals and logging."""

from pose_appliance.service.logging import setup_logging
from pose_appliance.service.signals import SignalWaker
from pose_appliance.service.systemd import SystemdNotifier

__all__ = ["SignalWaker", "SystemdNotifier", "setup_logging"]
