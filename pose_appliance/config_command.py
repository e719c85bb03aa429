"""``pose-appliance check-config``: validate a config file, or print the documented example config."""

from __future__ import annotations

import argparse
import dataclasses
import typing

from pose_appliance.config import Config, ConfigError, _toml_value, load_config
from pose_appliance.cli import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="config file to check")
    parser.add_argument("--example", action="store_true",
                        help="print a complete example config with every key documented, and exit")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo",
                        help="defaults of the example: demo (sample video in, video file out) or pi "
                             "(camera in, HDMI out, as deploy/install.sh installs it)")


def run(args: argparse.Namespace) -> int:
    if args.example:
        print(example_config(args.preset), end="")
        return 0
    if not args.config:
        raise CommandError("name a config file to check, or use --example")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    print(f"{args.config}: ok (camera {config.camera.type}, model {config.model.name}, "
          f"delegate {config.model.delegate}, display {config.display.type})")
    return 0


PRESETS: dict[str, dict[str, object]] = {
    "demo": {},
    "pi": {"camera.type": "picamera2", "camera.width": 640, "camera.height": 480, "display.type": "drm",
           "service.models_dir": "/var/lib/pose-appliance/models"},
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
    import textwrap
    return ["# " + line for line in textwrap.wrap(text, width - 2)]
