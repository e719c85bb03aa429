"""``pose-appliance`` command line: a thin dispatcher.

Each subcommand lives in the module that owns the capability and exposes ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only to build the parser, so they keep heavy imports (the runtime,
OpenCV, TensorFlow) inside functions.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("pose_appliance.app", "Run the appliance: camera -> pose -> label -> overlay -> display."),
    "estimate": ("pose_appliance.inference.estimate_command", "Keypoints of still images, as JSON."),
    "check-config": ("pose_appliance.config_command", "Validate a config file and explain every key."),
    "models": ("pose_appliance.modelstore", "List or fetch the models of the manifest."),
    "train-classifier": ("pose_appliance.classify.training", "Train a pose classifier from a folder of photos."),
    "doctor": ("pose_appliance.service.doctor", "Check camera, display, Edge TPU, models and config."),
    "bench": ("pose_appliance.bench", "Measure the model alone and the whole pipeline."),
}


class CommandError(Exception):
    """Bad input a user can fix: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pose-appliance", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, summary) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=summary, description=summary)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CommandError as exc:
        print(f"pose-appliance {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("pose-appliance")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
