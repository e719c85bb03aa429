"""``pose-appliance bench``: the model alone against the whole pipeline, measured in the same process, written as
JSON and printed as tables. The work is in :mod:`pose_appliance.bench`."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from pose_appliance.bench.plan import (
    DEFAULT_DISPLAYS,
    DEFAULT_SIZES,
    BenchOptions,
    make_plan,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models-dir", help="where fetched models are (default: service.models_dir rules)")
    parser.add_argument("--models", default="", help="comma-separated model names (default: every pose model "
                        "fetched in the models dir)")
    parser.add_argument("--threads", default="", help="comma-separated thread counts (default: 1..cores)")
    parser.add_argument("--delegates", default="", help="cpu and/or edgetpu (default: those present)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated frame sizes: WxH (the model "
                        "reads the whole frame) or camera:WxH (picamera2 main + lores streams); default "
                        f"{DEFAULT_SIZES}")
    parser.add_argument("--displays", default=DEFAULT_DISPLAYS, help="display targets: null (nothing drawn) "
                        "and/or fbdev (overlay composed into a file-backed framebuffer of the frame's size)")
    parser.add_argument("--frames", type=int, default=600, help="frames per unpaced run (default 600)")
    parser.add_argument("--rounds", type=int, default=5, help="unpaced measurements per size and display, each "
                        "against bare invokes just before and after it; the median ratio is reported (default 5)")
    parser.add_argument("--paced-frames", type=int, default=300, help="frames per paced run (default 300)")
    parser.add_argument("--fps", type=float, default=30.0, help="rate of the paced source (default 30)")
    parser.add_argument("--invokes", type=int, default=300, help="bare invokes per measurement (default 300)")
    parser.add_argument("--startup-seconds", type=float, default=3.0,
                        help="how long the appliance worker runs after its first frame (default 3)")
    parser.add_argument("--video", help="video the frames are decoded from (default: the demo video)")
    parser.add_argument("--events", action="store_true", help="measure only what MQTT events cost: fps and CPU "
                        "with the broker down (and up, with --broker) against events.type = none, in 30-frame "
                        "blocks interleaved in one run; --frames is then the frames per mode")
    parser.add_argument("--broker", default="", help="with --events: HOST:PORT of a running broker to measure too")
    parser.add_argument("--json", default="bench.json", help="where to write the results (default bench.json)")


def run(args: argparse.Namespace) -> int:
    from pose_appliance.bench.report import format_tables
    from pose_appliance.bench.runner import run_bench

    if args.events:
        return _events_cost(args)
    options = BenchOptions(models_dir=args.models_dir or "", models=args.models, threads=args.threads,
                           delegates=args.delegates, sizes=args.sizes, displays=args.displays, frames=args.frames,
                           rounds=args.rounds, paced_frames=args.paced_frames, fps=args.fps, invokes=args.invokes,
                           startup_seconds=args.startup_seconds, video=args.video or "")
    report = run_bench(make_plan(options), _command_line(args))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_tables(report))
    print(f"\nwritten to {path}")
    return 0


def _events_cost(args: argparse.Namespace) -> int:
    from pose_appliance import modelstore
    from pose_appliance.bench.events_cost import format_events_cost, run_events_cost

    models_dir = modelstore.resolve_models_dir(args.models_dir or "")
    video = args.video or str(models_dir / modelstore.load_manifest()["demo_video"].file)
    report = run_events_cost(models_dir=str(models_dir), video=video, frames=args.frames, broker=args.broker)
    report["command"] = _command_line(args)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_events_cost(report))
    print(f"\nwritten to {args.json}")
    return 0


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run: every option that differs from its default, quoted for a shell."""
    defaults = vars(_parser_defaults())
    words = ["pose-appliance", "bench"]
    for name, value in vars(args).items():
        if name in defaults and value != defaults[name]:
            flag = f"--{name.replace('_', '-')}"
            words += [flag] if value is True else [flag, shlex.quote(str(value))]  # True: a store_true flag
    return " ".join(words)


def _parser_defaults() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args([])
