"""Results for other systems, beside the display: pose, hold time and repetitions as events.

``create_event_sink`` picks the backend by ``events.type`` and imports it (and paho-mqtt) only when chosen.
"""

from __future__ import annotations

from collections.abc import Callable

from pose_appliance.config import EventsConfig
from pose_appliance.events.event_sink import (
    EventsError,
    EventSink,
    NullEventSink,
    event_document,
    state_document,
)


def create_event_sink(events_config: EventsConfig, *,
                      on_command: Callable[[str], None] | None = None) -> EventSink:
    """The configured sink, made but not started. ``on_command`` receives commands from the consumer side
    (MQTT ``<prefix>/<device>/command``: "reset_reps"); it is called on the sink's own thread."""
    if events_config.type == "none":
        return NullEventSink()
    if events_config.type == "mqtt":
        from pose_appliance.events.mqtt_sink import MqttEventSink
        return MqttEventSink(events_config.mqtt, on_command=on_command)
    raise EventsError(f"events.type: unknown type {events_config.type!r} (choose none or mqtt)")


__all__ = ["EventSink", "EventsError", "NullEventSink", "create_event_sink", "event_document", "state_document"]
