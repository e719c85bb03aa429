"""``pose-appliance run``: the appliance from a config file, with command-line overrides."""

from __future__ import annotations

import argparse
import logging
import stat
import typing
from pathlib import Path
from typing import Any

from pose_appliance.app import Appliance, Overrides
from pose_appliance.config import ConfigError, LogLevel
from pose_appliance.errors import UserError

log = logging.getLogger("pose_appliance")

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (default: the built-in demo: sample video in, "
                                                    "overlay video out)")
    parser.add_argument("--source", help="video file, image folder, camera device (/dev/videoN, "
                                         "/dev/v4l/by-id/...) or 'picamera2' (overrides camera.type)")
    parser.add_argument("--output", help="record the overlay to this video file or PNG folder "
                                         "(sets display.type = record)")
    parser.add_argument("--display", help="display target (overrides display.type)")
    parser.add_argument("--frames", type=int, default=0, help="stop after N processed frames")
    parser.add_argument("--record-keypoints", type=Path, metavar="PATH",
                        help="write one JSON object per frame (keypoints, label, crop) to PATH")
    parser.add_argument("--models-dir", help="where fetched models are (overrides service.models_dir)")
    parser.add_argument("--log-level", choices=typing.get_args(LogLevel),
                        help="overrides service.log_level")


def overrides_from_args(args: argparse.Namespace) -> Overrides:
    values: list[tuple[str, Any]] = []
    if args.source:
        values += source_override(args.source)
    if args.output:
        values += [("display.type", "record"), ("display.record.path", args.output)]
    if args.display:
        values.append(("display.type", args.display))
    if args.models_dir:
        values.append(("service.models_dir", str(Path(args.models_dir).resolve())))
    if args.log_level:
        values.append(("service.log_level", args.log_level))
    return Overrides(values)


def source_override(source: str) -> list[tuple[str, Any]]:
    if source == "picamera2":
        return [("camera.type", "picamera2")]
    path = Path(source)
    # Kept as written: /dev/v4l/by-id/... names the same webcam after a reboot, the /dev/videoN it links to may not.
    # Other paths under /dev/ are files or folders unless they are devices (/dev/shm/clip.mp4 is a video).
    if source.isdigit() or source.startswith(("/dev/video", "/dev/v4l/")) or _is_character_device(path):
        return [("camera.type", "opencv"), ("camera.opencv.device", source)]
    if not path.exists():
        raise UserError(f"--source {source}: no such file or folder")
    if path.is_dir():
        return [("camera.type", "images"), ("camera.images.path", str(path.resolve()))]
    return [("camera.type", "video"), ("camera.video.path", str(path.resolve()))]


def _is_character_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(path.stat().st_mode)
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    from pose_appliance.service.logging import setup_logging
    from pose_appliance.service.signals import SignalWaker

    # First thing: a SIGHUP or SIGTERM from now on is an event for the main loop, not the end of the process
    # (systemd may send either while the model still loads).
    with SignalWaker() as waker:
        if args.frames < 0:
            raise UserError("--frames must be 0 (no limit) or more")
        overrides = overrides_from_args(args)
        try:
            appliance = Appliance(args.config, overrides, max_frames=args.frames,
                                  keypoints_path=args.record_keypoints)
        except ConfigError as exc:
            raise UserError(str(exc)) from None
        setup_logging(appliance.config.service.log_level)
        try:
            return appliance.run(waker)
        except (ValueError, OSError, RuntimeError) as exc:
            # Load failures at start (missing model, unreadable video, bad device) are one line, not a traceback.
            log.debug("start failed", exc_info=True)
            raise UserError(str(exc)) from None
