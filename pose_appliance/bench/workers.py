"""The child side of a bench run (``python -m pose_appliance.bench.workers JOB_JSON``): measure one configuration
and print the result as the last line of stdout. A process per measurement gives each its own peak RSS."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pose_appliance.bench.frames import PreparedFrames
from pose_appliance.bench.measure import (
    InvokeTimer,
    TimingDisplay,
    build_display,
    display_config_for,
    percentiles,
    run_pipeline,
)
from pose_appliance.bench.progress import StepProgress
from pose_appliance.bench.serial_loop import run_serial_loop

FRAME_BUDGET_BYTES = 64 << 20  # frames decoded ahead per size: at most this much memory, at least 8 frames


def main(job: dict) -> int:
    import logging
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = appliance_worker(job) if job["kind"] == "appliance" else pipeline_worker(job)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


def _config(job: dict, **overrides: Any):
    from pose_appliance.config import Config, replace

    config = Config()
    values = {"service.models_dir": job["models_dir"], "model.name": job["model"],
              "model.delegate": job["delegate"], "model.threads": job["threads"], **overrides}
    for dotted, value in values.items():
        config = replace(config, dotted, value)
    return config


def pipeline_worker(job: dict) -> dict:
    from pose_appliance.app import build_stages
    from pose_appliance.inference import TFLiteEstimator
    from pose_appliance.modelstore import model_file

    stages = build_stages(_config(job))
    estimator = stages.estimator
    if not isinstance(estimator, TFLiteEstimator):  # the bare invoke needs the interpreter
        raise RuntimeError(f"bench measures TFLite models; {job['model']} is not one")
    invoke = InvokeTimer(estimator.model.interpreter)
    bare = invoke.measure(job["invokes"])
    result = {"model": job["model"], "delegate": estimator.delegate, "threads": job["threads"],
              "runtime": estimator.model.runtime,
              "model_bytes": Path(model_file(job["model"], job["models_dir"])).stat().st_size,
              "input_size": list(estimator.input_size), "invoke": bare, "runs": []}
    progress = StepProgress(len(job["sizes"]) * len(job["displays"]) * (job["rounds"] + 1), job["title"])
    with tempfile.TemporaryDirectory(prefix="pose-bench-") as scratch:
        for size in job["sizes"]:
            frames = PreparedFrames.from_video(job["video"], size, estimator.input_size, FRAME_BUDGET_BYTES)
            for display_type in job["displays"]:
                display_config = display_config_for(display_type, (size["width"], size["height"]), scratch)
                rounds = []
                for i in range(job["rounds"]):
                    progress.step(f"{size['name']} {display_type}: round {i + 1}/{job['rounds']} (bare invoke, "
                                  "pipeline, serial loop)")
                    rounds.append(measured_round(invoke, stages, frames, display_config, job))
                pipeline_round = median_round(rounds, "ratio")
                serial_round = median_round(rounds, "serial_ratio")
                progress.step(f"{size['name']} {display_type}: latency with a source paced at {job['fps']:g} fps")
                paced = run_pipeline(stages, frames, display_config, job["paced_frames"], fps=job["fps"])
                result["runs"].append({
                    "size": size["name"], "frame_size": [size["width"], size["height"]],
                    "lores_size": frames.lores_size, "display": display_type,
                    "invoke_fps": pipeline_round["invoke_fps"],
                    "pipeline_fps": pipeline_round["unpaced"]["fps"],
                    "ratio": pipeline_round["ratio"],
                    "cpu_ms_per_frame": pipeline_round["unpaced"]["cpu_ms_per_frame"],
                    "cpu_ms_outside_invoke": pipeline_round["unpaced"]["cpu_ms_outside_invoke"],
                    "serial_fps": serial_round["serial"]["fps"], "serial_ratio": serial_round["serial_ratio"],
                    "serial_cpu_ms_per_frame": serial_round["serial"]["cpu_ms_per_frame"],
                    "serial_cpu_ms_outside_invoke": serial_round["serial"]["cpu_ms_outside_invoke"],
                    "spread": round_spread(rounds), "paced": paced, "rounds": rounds})
            del frames
    progress.close()
    return result


def measured_round(invoke: InvokeTimer, stages, frames: PreparedFrames, display_config, job: dict) -> dict:
    """Bare invoke, the unpaced pipeline, bare invoke, the TF sample's loop, bare invoke. Each loop is compared
    with the mean of the bare invoke rates just before and after it: a shared host changes speed every few
    seconds, so only measurements this close together share its state."""
    before = invoke.measure(job["invokes"])
    unpaced = run_pipeline(stages, frames, display_config, job["frames"])
    between = invoke.measure(job["invokes"])
    serial = run_serial_loop(stages, invoke.interpreter, frames, display_config, job["frames"])
    after = invoke.measure(job["invokes"])
    invoke_fps = round((before["fps"] + between["fps"]) / 2, 1)
    serial_invoke_fps = round((between["fps"] + after["fps"]) / 2, 1)
    invoke_cpu = (before["cpu_ms"] + between["cpu_ms"]) / 2
    unpaced["cpu_ms_outside_invoke"] = round(unpaced["cpu_ms_per_frame"] - invoke_cpu, 3)
    serial["cpu_ms_outside_invoke"] = round(serial["cpu_ms_per_frame"] - (between["cpu_ms"] + after["cpu_ms"]) / 2, 3)
    return {"invoke_fps": invoke_fps, "unpaced": unpaced, "ratio": round(unpaced["fps"] / invoke_fps, 3),
            "serial_invoke_fps": serial_invoke_fps, "serial": serial,
            "serial_ratio": round(serial["fps"] / serial_invoke_fps, 3),
            "invoke_fps_measured": [before["fps"], between["fps"], after["fps"]]}


SPREAD_KEYS = {"ratio": ("ratio",), "pipeline_fps": ("unpaced", "fps"),
               "cpu_ms_per_frame": ("unpaced", "cpu_ms_per_frame"),
               "cpu_ms_outside_invoke": ("unpaced", "cpu_ms_outside_invoke"), "serial_ratio": ("serial_ratio",),
               "serial_fps": ("serial", "fps"), "serial_cpu_ms_per_frame": ("serial", "cpu_ms_per_frame"),
               "serial_cpu_ms_outside_invoke": ("serial", "cpu_ms_outside_invoke")}


def round_spread(rounds: list[dict]) -> dict:
    """min, median and max over the rounds of every figure the table shows: the host's state changes between
    rounds, so the median alone hides how far one round can be from another."""
    import statistics

    spread = {}
    for name, path in SPREAD_KEYS.items():
        values: list[float] = []
        for r in rounds:
            value: Any = r
            for key in path:
                value = value[key]
            values.append(float(value))
        spread[name] = {"min": min(values), "median": round(statistics.median(values), 3), "max": max(values)}
    return spread


def median_round(rounds: list[dict], key: str) -> dict:
    """The round whose ``key`` is the median (the lower middle one of an even count)."""
    ordered = sorted(rounds, key=lambda r: r[key])
    return ordered[(len(ordered) - 1) // 2]


def appliance_worker(job: dict) -> dict:
    """The appliance as `run` builds it: paced demo video at 640x480, the first display target."""
    import threading

    from pose_appliance.app import build_source, build_stages
    from pose_appliance.pipeline import Pipeline

    progress = StepProgress(1, job["title"])
    progress.step("start-up and memory of the appliance as `run` builds it")
    with tempfile.TemporaryDirectory(prefix="pose-bench-") as scratch:
        config = _config(job, **{"camera.type": "video", "camera.video.path": job["video"],
                                 "camera.video.realtime": True, "camera.video.loop": True,
                                 "camera.width": 640, "camera.height": 480})
        display_config = display_config_for(job["displays"][-1], (640, 480), scratch)
        stages = build_stages(config)
        source = build_source(config, stages.estimator)
        display = TimingDisplay(build_display(display_config, source))
        pipeline = Pipeline(source, stages, display)
        cpu_start = time.process_time()
        pipeline.start()
        if not display.first_shown.wait(60):
            raise RuntimeError("no overlaid frame within 60 s")
        first_overlay_s = display.first_shown_at - job["spawned_at"]
        display.reset()
        cpu_start, count_start = time.process_time(), pipeline.stats.processed
        threading.Event().wait(job["startup_seconds"])
        cpu = time.process_time() - cpu_start
        frames = pipeline.stats.processed - count_start
        pipeline.stop()
        display.close()
        source.stop()
        latencies = display.latencies_ms()
    progress.close()
    return {"first_overlay_s": round(first_overlay_s, 3), "frames": frames, "display": display_config.type,
            "source": f"video {Path(job['video']).name} paced, 640x480",
            "latency_ms": percentiles(latencies, (50, 99)),
            "cpu_ms_per_frame": round(1000.0 * cpu / max(frames, 1), 2),
            "dropped": pipeline.capture_dropped}


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
