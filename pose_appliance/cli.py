"""``pose-appliance`` command line: a thin dispatcher.

Each subcommand is a module of :mod:`pose_appliance.commands` exposing ``add_arguments(parser)`` and
``run(args) -> int``: it parses, calls the library and prints. Only the module of the command given is imported
(all of them for a bare ``--help``), and they keep heavy imports (the runtime, OpenCV, TensorFlow) inside
functions: ``run`` starts without importing what ``train-classifier`` or ``doctor`` need.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import sys
import threading
from typing import NoReturn

# numpy's OpenBLAS starts a thread per core when numpy loads, and they spin for about 0.1 s of CPU before they
# sleep: 13 % of the CPU of a 120-frame run on 2 cores, competing with the start-up. Nothing here needs parallel
# BLAS (the largest matrix is 17 x 2). Set before numpy loads; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pose_appliance.errors import UserError

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("pose_appliance.commands.run", "Run the appliance: camera -> pose -> label -> overlay -> display."),
    "estimate": ("pose_appliance.commands.estimate", "Keypoints of still images, as JSON."),
    "check-config": ("pose_appliance.commands.check_config", "Validate a config, or print every key documented."),
    "models": ("pose_appliance.commands.models", "List or fetch the models of the manifest."),
    "train-classifier": ("pose_appliance.commands.train_classifier",
                         "Train a pose classifier from a folder of photos."),
    "doctor": ("pose_appliance.commands.doctor", "Check camera, display, Edge TPU, models and config."),
    "bench": ("pose_appliance.commands.bench", "Measure the model alone and the whole pipeline."),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; when ``argv`` names a command, only that command's module is imported."""
    parser = argparse.ArgumentParser(
        prog="pose-appliance", epilog="`pose-appliance COMMAND --help` for a command's options.",
        description="A camera appliance: MoveNet finds a person's pose, a classifier names it, and the overlay "
                    "shows both. Its config: /etc/pose-appliance/config.toml when installed as a service.")
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    named = next((arg for arg in argv or () if not arg.startswith("-")), None)
    for name, (module_name, summary) in COMMANDS.items():
        command = sub.add_parser(name, help=summary, description=summary)
        if named in COMMANDS and name != named:
            continue
        module = importlib.import_module(module_name)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked (importlib.metadata is slow to import)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())
        parser.exit()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"pose-appliance {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`pose-appliance models list | head -1`): end as a program killed by SIGPIPE
        # would, without a traceback; stdout goes to /dev/null so the final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13


def program() -> NoReturn:
    """The ``pose-appliance`` console script (and ``python -m pose_appliance``): :func:`main`, then out.

    By the time a command returns it has closed what it wrote (the run command's ExitStack, ``with`` blocks
    elsewhere). What normal interpreter exit would still do is tear down every module and native object (the
    model's interpreter, OpenCV, numpy): about 40 ms on a quiet 2-core host, 0.3-0.5 s on a loaded one, waited
    for at every stop and service restart. So the exit handlers run, the standard streams are flushed, and the
    process leaves with ``os._exit``. When a non-daemon thread is still running, Python's own exit is used,
    which waits for it.
    """
    status = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(status)
    atexit._run_exitfuncs()  # logging.shutdown among them: every handler flushed and closed
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
            stream.flush()
    os._exit(status)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("pose-appliance")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    program()
