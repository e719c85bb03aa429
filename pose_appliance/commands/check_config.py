"""``pose-appliance check-config``: validate a config file, or print the documented example config."""

from __future__ import annotations

import argparse

from pose_appliance.config import ConfigError, load_config
from pose_appliance.config_example import PRESETS, example_config
from pose_appliance.errors import UserError


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
        raise UserError("name a config file to check, or use --example")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    print(f"{args.config}: ok (camera {config.camera.type}, model {config.model.name}, "
          f"delegate {config.model.delegate}, display {config.display.type})")
    return 0
