"""The documented example config: every key with its documentation, at its default or a preset's value.

``pose_appliance/data/config.example.toml`` is ``example_config("pi")`` (a test keeps it in sync); print it with
``pose-appliance check-config --example [--preset pi]``.
"""

from __future__ import annotations

import dataclasses
import textwrap
import typing

from pose_appliance.config import Config, _toml_value
from pose_appliance.modelstore import SERVICE_MODELS_DIR

PRESETS: dict[str, dict[str, object]] = {
    "demo": {},
    "pi": {"camera.type": "picamera2", "camera.width": 640, "camera.height": 480, "display.type": "drm",
           "service.models_dir": SERVICE_MODELS_DIR},
}


def example_config(preset: str = "demo") -> str:
    """Every key with its documentation, at its default or the preset's value (deploy installs preset pi)."""
    overrides = PRESETS[preset]
    lines = [f"# pose-appliance configuration (preset {preset}). Every key is optional; a key left out takes the",
             "# default in `pose-appliance check-config --example`.",
             "# The service reloads this file when it changes (or on `systemctl reload pose-appliance`).",
             "# Check it with: pose-appliance check-config FILE", ""]
    _table(Config, "", lines, overrides)
    return "\n".join(lines).rstrip("\n") + "\n"


def _table(cls: type, prefix: str, lines: list[str], overrides: dict) -> None:
    hints = typing.get_type_hints(cls)
    subtables = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            subtables.append((f, hints[f.name]))
            continue
        lines.extend(_comment(f.metadata["doc"]))
        value = overrides.get(f"{prefix}.{f.name}" if prefix else f.name, f.default)
        lines.append(f"{f.name} = {_toml_value(value)}")
    for f, sub in subtables:
        name = f"{prefix}.{f.name}" if prefix else f.name
        lines.append("")
        lines.extend(_comment(f.metadata["doc"], width=112))
        lines.append(f"[{name}]")
        _table(sub, name, lines, overrides)


def _comment(text: str, width: int = 116) -> list[str]:
    return ["# " + line for line in textwrap.wrap(text, width - 2)]
