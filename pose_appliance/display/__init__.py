"""Where the overlay goes. Backends are chosen by ``display.type`` and imported only when chosen.

``open_display`` makes the backend without opening it; the app wraps it in ``ResilientDisplay``, which opens it
on the first frame and keeps the pipeline running headless while it fails.
"""

from __future__ import annotations

import importlib
from typing import Any

from pose_appliance.config import DisplayConfig, backend_settings
from pose_appliance.display.compositor import Compositor, letterbox
from pose_appliance.display.display import Display, DisplayError
from pose_appliance.display.null_display import NullDisplay
from pose_appliance.display.resilient_display import ResilientDisplay

# display.type -> (module, class); each backend class takes (its config section, camera=...).
BACKENDS: dict[str, tuple[str, str]] = {
    "record": ("pose_appliance.display.record_display", "RecordDisplay"),
    "fbdev": ("pose_appliance.display.fbdev_display", "FbdevDisplay"),
    "drm": ("pose_appliance.display.drm_display", "DrmDisplay"),
    "window": ("pose_appliance.display.window_display", "WindowDisplay"),
    "web": ("pose_appliance.display.web_display", "WebDisplay"),
}

# Displays someone watches as it happens: a file source plays in real time and loops for them by default.
LIVE_DISPLAYS: tuple[str, ...] = ("web", "window", "drm", "fbdev")


def open_display(display_config: DisplayConfig, *, camera: Any = None) -> Display:
    """The display backend ``display.type`` names, not yet opened. ``camera`` is the running frame source
    (the DRM target shows its Picamera2 preview; the record target takes its frame rate)."""
    if display_config.type == "null":
        return NullDisplay()
    if display_config.type not in BACKENDS:
        raise DisplayError(f"display.type: unknown display {display_config.type!r} "
                           f"(choose one of null, {', '.join(BACKENDS)})")
    module_name, class_name = BACKENDS[display_config.type]
    backend = getattr(importlib.import_module(module_name), class_name)
    return backend(backend_settings(display_config), camera=camera)


__all__ = ["Display", "DisplayError", "NullDisplay", "ResilientDisplay", "Compositor", "letterbox",
           "open_display", "BACKENDS", "LIVE_DISPLAYS"]
