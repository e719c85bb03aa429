"""``pose-appliance bench``: the model alone against the whole pipeline, measured in the same process.

For each pose model in the models dir, each delegate present (the CPU; the Edge TPU when a device and the
model's Edge TPU build are there) and each thread count 1..cores, one worker process measures:

- bare invoke: the interpreter alone on a filled input tensor (median, p90 latency; throughput);
- the pipeline unpaced (capture -> crop -> invoke -> classify -> overlay -> display target, on its threads) on
  frames decoded ahead of time, for each frame size and display target, with the bare invoke throughput
  measured just before and after it in the same process: their ratio is the pipeline's overhead;
- the TensorFlow raspberry_pi sample's serial loop on the same frames (flip, crop + pad + resize with OpenCV,
  set_tensor, invoke, classify, draw + show in one thread), for comparison;
- the pipeline fed by a paced source (30 fps, a camera that drops what the pipeline cannot take): latency from
  frame capture to overlay written (p50, p99) and CPU time per frame.

A second worker per configuration runs the appliance as ``run`` builds it (paced demo video at 640x480) and
gives the time from process start to the first overlaid frame and the peak RSS (``wait4``: each worker has its
own peak). ``camera:WxH`` sizes are frames as the picamera2 source delivers them: a WxH XBGR8888 main stream
converted to RGB on the capture thread, and a YUV420 lores stream at the model's size that the model reads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SIZES = "640x480,camera:640x480,camera:1280x720"
DEFAULT_DISPLAYS = "null,fbdev"
FRAME_BUDGET_BYTES = 64 << 20  # frames decoded ahead per size: at most this much memory, at least 8 frames
TARGETS = {"ratio": 0.9, "latency_margin_ms": 10.0, "peak_rss_mb": 200.0, "first_overlay_s": 2.0}


# ---------------------------------------------------------------------------------------------- the command
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
    parser.add_argument("--json", default="bench.json", help="where to write the results (default bench.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from pose_appliance.cli import CommandError

    if args.worker:
        return _worker_main(json.loads(args.worker))
    plan = _plan(args, CommandError)
    started = time.monotonic()
    report: dict[str, Any] = {"machine": machine_info(), "command": _command_line(args),
                              "settings": plan["settings"], "targets": TARGETS, "configs": []}
    for model, delegate, threads in plan["configs"]:
        print(f"bench: {model} on {delegate} with {threads} thread{'s' * (threads > 1)} ...", file=sys.stderr,
              flush=True)
        job = dict(plan["settings"], model=model, delegate=delegate, threads=threads)
        measured = _spawn(dict(job, kind="pipeline"))
        measured["bench_peak_rss_mb"] = measured.pop("peak_rss_mb")
        appliance = _spawn(dict(job, kind="appliance"))
        measured["appliance"] = appliance
        report["configs"].append(measured)
    report["machine"]["load_after"] = _loadavg()
    report["seconds"] = round(time.monotonic() - started, 1)
    report["checks"] = target_checks(report)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_tables(report))
    print(f"\nwritten to {path}")
    return 0


def _plan(args: argparse.Namespace, error: type[Exception]) -> dict:
    from pose_appliance import modelstore
    from pose_appliance.inference import find_edgetpu

    models_dir = modelstore.resolve_models_dir(args.models_dir or "")
    manifest = modelstore.load_manifest()
    pose_models = modelstore.pose_models(manifest)
    if args.models:
        wanted = _split(args.models)
        unknown = [m for m in wanted if m not in {e.name for e in pose_models}]
        if unknown:
            raise error(f"--models: {unknown[0]!r} is not a pose model of the manifest "
                        f"(choose from: {', '.join(e.name for e in pose_models)})")
        pose_models = [e for e in pose_models if e.name in wanted]
    models = [e for e in pose_models if (models_dir / e.file).is_file()]
    if not models:
        raise error(f"no pose model in {models_dir} (fetch one: pose-appliance models fetch --models-dir "
                    f"{models_dir})")
    cores = os.cpu_count() or 1
    try:
        threads = [int(t) for t in _split(args.threads)] or list(range(1, cores + 1))
    except ValueError:
        raise error(f"--threads: expected numbers like 1,2, got {args.threads!r}") from None
    device = find_edgetpu()
    delegates = _split(args.delegates) or ["cpu", "edgetpu"]
    if set(delegates) - {"cpu", "edgetpu"}:
        raise error(f"--delegates: choose cpu and/or edgetpu, got {args.delegates!r}")
    sizes = [parse_size(s, error) for s in _split(args.sizes)]
    displays = _split(args.displays)
    if not displays or set(displays) - {"null", "fbdev"}:
        raise error(f"--displays: choose null and/or fbdev, got {args.displays!r}")
    video = Path(args.video) if args.video else models_dir / manifest["demo_video"].file
    if not video.is_file():
        raise error(f"{video}: video not found (give --video FILE, or fetch the demo video: pose-appliance "
                    f"models fetch demo_video --models-dir {models_dir})")
    for name, value in (("--frames", args.frames), ("--paced-frames", args.paced_frames),
                        ("--invokes", args.invokes)):
        if value < 5:
            raise error(f"{name}: at least 5, got {value}")
    configs = []
    for entry in models:
        for delegate in delegates:
            if delegate == "edgetpu" and (device is None or not entry.edgetpu
                                          or not (models_dir / manifest[entry.edgetpu].file).is_file()):
                continue
            for count in threads:
                configs.append((entry.name, delegate, count))
    settings = {"models_dir": str(models_dir), "video": str(video), "sizes": sizes, "displays": displays,
                "frames": args.frames, "rounds": max(1, args.rounds), "paced_frames": args.paced_frames,
                "fps": args.fps, "invokes": args.invokes, "startup_seconds": args.startup_seconds,
                "edgetpu_device": device}
    return {"settings": settings, "configs": configs}


def parse_size(text: str, error: type[Exception] = ValueError) -> dict:
    camera, _, dims = text.strip().rpartition(":")
    try:
        width, height = (int(v) for v in dims.lower().split("x"))
    except ValueError:
        raise error(f"--sizes: {text!r} is not WxH or camera:WxH") from None
    if camera not in ("", "camera") or width < 16 or height < 16 or width % 2 or height % 2:
        raise error(f"--sizes: {text!r} is not WxH or camera:WxH (even sizes of at least 16)")
    return {"name": text.strip(), "width": width, "height": height, "camera": camera == "camera"}


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run: every option that differs from its default."""
    defaults = vars(_parser_defaults())
    words = ["pose-appliance", "bench"]
    for name, value in vars(args).items():
        if name in defaults and name != "worker" and value != defaults[name]:
            words += [f"--{name.replace('_', '-')}", str(value)]
    return " ".join(words)


def _parser_defaults() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args([])


def _spawn(job: dict) -> dict:
    """Run one worker process; its peak RSS comes from wait4, its result from the last line of its stdout."""
    job = dict(job, spawned_at=time.monotonic())
    command = [sys.executable, "-m", "pose_appliance", "bench", "--worker", json.dumps(job)]
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().decode("utf-8", "replace").strip().splitlines()
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"bench worker {job['kind']} for {job['model']} failed (exit {process.returncode})")
    result = json.loads(lines[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024.0, 1)  # Linux: KiB
    return result


# ------------------------------------------------------------------------------------------------- machine
def machine_info() -> dict:
    import numpy

    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "machine": platform.machine(), "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "numpy": numpy.__version__, "load_before": _loadavg()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import cv2
        info["opencv"] = cv2.__version__
    except ImportError:
        pass
    from importlib.metadata import PackageNotFoundError, version
    for package in ("ai-edge-litert", "tflite-runtime"):
        try:
            info["runtime"] = f"{package} {version(package)}"
            break
        except PackageNotFoundError:
            continue
    return info


def _loadavg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


# ------------------------------------------------------------------------------------------------- workers
def _worker_main(job: dict) -> int:
    import logging
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = _appliance_worker(job) if job["kind"] == "appliance" else _pipeline_worker(job)
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


def _pipeline_worker(job: dict) -> dict:
    from pose_appliance.app import build_stages
    from pose_appliance.modelstore import model_file

    stages = build_stages(_config(job))
    estimator = stages.estimator
    invoke = InvokeTimer(estimator.model.interpreter)
    bare = invoke.measure(job["invokes"])
    result = {"model": job["model"], "delegate": estimator.delegate, "threads": job["threads"],
              "runtime": estimator.model.runtime,
              "model_bytes": Path(model_file(job["model"], job["models_dir"])).stat().st_size,
              "input_size": list(estimator.input_size), "invoke": bare, "runs": []}
    with tempfile.TemporaryDirectory(prefix="pose-bench-") as scratch:
        for size in job["sizes"]:
            frames = PreparedFrames.from_video(job["video"], size, estimator.input_size, FRAME_BUDGET_BYTES)
            for display_type in job["displays"]:
                display_config = _display_config(display_type, (size["width"], size["height"]), scratch)
                rounds = [_measured_round(invoke, stages, frames, display_config, job)
                          for _ in range(job["rounds"])]
                pipeline_round = _median_round(rounds, "ratio")
                serial_round = _median_round(rounds, "serial_ratio")
                paced = run_pipeline(stages, frames, display_config, job["paced_frames"], fps=job["fps"])
                result["runs"].append({
                    "size": size["name"], "frame_size": [size["width"], size["height"]],
                    "lores_size": frames.lores_size, "display": display_type,
                    "invoke_fps": pipeline_round["invoke_fps"],
                    "pipeline_fps": pipeline_round["unpaced"]["fps"],
                    "ratio": pipeline_round["ratio"],
                    "cpu_ms_per_frame": pipeline_round["unpaced"]["cpu_ms_per_frame"],
                    "serial_fps": serial_round["serial"]["fps"], "serial_ratio": serial_round["serial_ratio"],
                    "paced": paced, "rounds": rounds})
            del frames
    return result


def _measured_round(invoke: "InvokeTimer", stages, frames: "PreparedFrames", display_config, job: dict) -> dict:
    """Bare invoke, the unpaced pipeline, bare invoke, the TF sample's loop, bare invoke. Each loop is compared
    with the mean of the bare invoke rates just before and after it: a shared host changes speed every few
    seconds, so only measurements this close together share its state."""
    before = invoke.measure(job["invokes"])
    unpaced = run_pipeline(stages, frames, display_config, job["frames"])
    between = invoke.measure(job["invokes"])
    serial = run_serial_loop(stages, frames, display_config, job["frames"])
    after = invoke.measure(job["invokes"])
    invoke_fps = round((before["fps"] + between["fps"]) / 2, 1)
    serial_invoke_fps = round((between["fps"] + after["fps"]) / 2, 1)
    return {"invoke_fps": invoke_fps, "unpaced": unpaced, "ratio": round(unpaced["fps"] / invoke_fps, 3),
            "serial_invoke_fps": serial_invoke_fps, "serial": serial,
            "serial_ratio": round(serial["fps"] / serial_invoke_fps, 3),
            "invoke_fps_measured": [before["fps"], between["fps"], after["fps"]]}


def _median_round(rounds: list[dict], key: str) -> dict:
    """The round whose ``key`` is the median (the lower middle one of an even count)."""
    ordered = sorted(rounds, key=lambda r: r[key])
    return ordered[(len(ordered) - 1) // 2]


def _appliance_worker(job: dict) -> dict:
    """The appliance as `run` builds it: paced demo video at 640x480, the first display target."""
    import threading

    from pose_appliance.app import build_source, build_stages
    from pose_appliance.pipeline import Pipeline

    with tempfile.TemporaryDirectory(prefix="pose-bench-") as scratch:
        config = _config(job, **{"camera.type": "video", "camera.video.path": job["video"],
                                 "camera.video.realtime": True, "camera.video.loop": True,
                                 "camera.width": 640, "camera.height": 480})
        display_config = _display_config(job["displays"][-1], (640, 480), scratch)
        stages = build_stages(config)
        source = build_source(config, stages.estimator)
        display = TimingDisplay(_build_display(display_config, source))
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
    return {"first_overlay_s": round(first_overlay_s, 3), "frames": frames, "display": display_config.type,
            "source": f"video {Path(job['video']).name} paced, 640x480",
            "latency_ms": _percentiles(latencies, (50, 99)),
            "cpu_ms_per_frame": round(1000.0 * cpu / max(frames, 1), 2),
            "dropped": pipeline.capture_dropped}


# --------------------------------------------------------------------------------------------- bare invoke
class InvokeTimer:
    """Times ``interpreter.invoke()`` alone, on an input tensor filled once with mid-grey."""

    def __init__(self, interpreter):
        import numpy as np

        self.interpreter = interpreter
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], np.full(detail["shape"], 128, detail["dtype"]))

    def measure(self, count: int) -> dict:
        import numpy as np

        invoke, clock = self.interpreter.invoke, time.perf_counter
        for _ in range(max(5, count // 10)):
            invoke()
        times = np.empty(count)
        started = clock()
        for i in range(count):
            t0 = clock()
            invoke()
            times[i] = clock() - t0
        total = clock() - started
        ms = times * 1000.0
        return {"median_ms": round(float(np.median(ms)), 3), "p90_ms": round(float(np.percentile(ms, 90)), 3),
                "mean_ms": round(float(ms.mean()), 3), "fps": round(count / total, 1)}


# ----------------------------------------------------------------------------------- frames decoded ahead
@dataclass
class PreparedFrames:
    """Frames decoded (and resized) ahead of time, so reading one costs what a camera read costs.

    Plain sizes hold RGB images the source hands out as they are. Camera sizes hold picamera2's buffers, an
    XBGR8888 main stream and a YUV420 lores stream at the model's size, converted to RGB per read as
    ``Picamera2Source`` does. The frames are played forwards then backwards, so the motion stays continuous.
    """

    images: list
    lores: list
    size: tuple[int, int]
    lores_size: list | None

    @classmethod
    def from_video(cls, path: str, size: dict, model_size: tuple[int, int], budget: int) -> "PreparedFrames":
        import cv2
        import numpy as np

        from pose_appliance.camera.picamera2_source import lores_size_for

        width, height = size["width"], size["height"]
        lores_size = lores_size_for((width, height), model_size) if size["camera"] else None
        per_frame = width * height * (4 if size["camera"] else 3)
        limit = max(8, budget // per_frame)
        capture = cv2.VideoCapture(str(path))
        images, lores = [], []
        while len(images) < limit:
            ok, bgr = capture.read()
            if not ok:
                break
            rgb = cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            if lores_size is None:
                images.append(rgb)
                continue
            images.append(np.dstack([rgb, np.full((height, width), 255, np.uint8)]))  # XBGR8888: R,G,B,X
            small = cv2.resize(rgb, lores_size, interpolation=cv2.INTER_AREA)
            lores.append(cv2.cvtColor(small, cv2.COLOR_RGB2YUV_I420))
        capture.release()
        if len(images) < 2:
            raise RuntimeError(f"{path}: fewer than 2 frames decoded")
        return cls(images, lores, (width, height), list(lores_size) if lores_size else None)

    def __len__(self) -> int:
        return len(self.images)

    def frame(self, index: int):
        """(image, lores) of frame ``index`` of the endless forwards-backwards play, as the source delivers it."""
        from pose_appliance.camera.pixel_formats import picamera2_to_rgb

        k = self._position(index)
        if self.lores_size is None:
            return self.images[k], None
        return (picamera2_to_rgb(self.images[k], "XBGR8888", self.size),
                picamera2_to_rgb(self.lores[k], "YUV420", tuple(self.lores_size)))

    def main(self, index: int):
        """Only the RGB display image of frame ``index`` (what an OpenCV capture of that size reads)."""
        from pose_appliance.camera.pixel_formats import picamera2_to_rgb

        k = self._position(index)
        return self.images[k] if self.lores_size is None else picamera2_to_rgb(self.images[k], "XBGR8888", self.size)

    def _position(self, index: int) -> int:
        period = 2 * len(self.images) - 2
        k = index % period
        return k if k < len(self.images) else period - k


def _prepared_source(frames: PreparedFrames, count: int, fps: float | None):
    """A FrameSource over prepared frames: unpaced (waits for the pipeline) or a camera at ``fps``."""
    from pose_appliance.camera import FrameSource
    from pose_appliance.camera.pacer import Pacer

    class PreparedSource(FrameSource):
        name = "prepared"
        live = fps is not None
        frame_rate = fps

        def __init__(self):
            self._next = 0
            self._pacer = Pacer(fps) if fps else None

        def read(self):
            index = self._next
            if self._pacer is not None:
                index = self._pacer.next_slot(index)
            if index >= count:
                return None
            self._next = index + 1
            image, lores = frames.frame(index)
            return self.make_frame(image, index, lores=lores)

    return PreparedSource()


# ---------------------------------------------------------------------------------------------- displays
def _display_config(kind: str, screen: tuple[int, int], scratch: str):
    """null, or fbdev on a file-backed XRGB8888 framebuffer of ``screen`` size with its fake sysfs entries."""
    from pose_appliance.config import DisplayConfig, FbdevDisplayConfig

    if kind == "null":
        return DisplayConfig(type="null")
    width, height = screen
    root = Path(scratch, f"fb-{width}x{height}")
    info = root / "sys" / "class" / "graphics" / "fb0"
    device = root / "fb0"
    if not device.exists():
        info.mkdir(parents=True)
        (info / "virtual_size").write_text(f"{width},{height}\n")
        (info / "bits_per_pixel").write_text("32\n")
        (info / "stride").write_text(f"{width * 4}\n")
        with open(device, "wb") as f:
            f.truncate(width * height * 4)
    return DisplayConfig(type="fbdev", fbdev=FbdevDisplayConfig(device=str(device), sysfs_root=str(root / "sys")))


def _build_display(display_config, source):
    from pose_appliance.display import ResilientDisplay, open_display
    return ResilientDisplay(lambda: open_display(display_config, camera=source), display_config)


class TimingDisplay:
    """Wraps the real display: notes when each overlay was written, the process CPU time then, and how old its
    frame was by then."""

    def __init__(self, display):
        import threading

        self.display = display
        self.name = getattr(display, "name", "display")
        self.first_shown = threading.Event()
        self.first_shown_at = 0.0
        self.reset()

    @property
    def overlay_only(self) -> bool:
        return bool(getattr(self.display, "overlay_only", False))

    def reset(self) -> None:
        self.shown_at: list[float] = []
        self.cpu_at: list[float] = []
        self.latencies: list[float] = []

    def open(self, frame_size) -> None:
        self.display.open(frame_size)

    def show(self, result, renderer, status) -> None:
        self.display.show(result, renderer, status)
        now = time.monotonic()
        self.shown_at.append(now)
        self.cpu_at.append(time.process_time())
        self.latencies.append(now - result.frame.timestamp)
        if not self.first_shown.is_set():
            self.first_shown_at = now
            self.first_shown.set()

    def close(self) -> None:
        self.display.close()

    def latencies_ms(self) -> list[float]:
        return [1000.0 * v for v in self.latencies]


# ---------------------------------------------------------------------------------------------- the runs
def _reset_stages(stages) -> None:
    stages.estimator.reset()
    if stages.smoother is not None:
        stages.smoother.reset()


def run_pipeline(stages, frames: PreparedFrames, display_config, count: int, *, fps: float | None = None) -> dict:
    """The real Pipeline on prepared frames. Unpaced: throughput after a warm-up of count/10 frames. Paced:
    capture -> overlay latency of every frame shown and CPU time per frame."""
    from pose_appliance.pipeline import Pipeline

    _reset_stages(stages)
    warmup = 0 if fps else max(5, count // 10)
    source = _prepared_source(frames, count + warmup, fps)
    display = TimingDisplay(_build_display(display_config, source))
    pipeline = Pipeline(source, stages, display)
    started_cpu = time.process_time()
    pipeline.start()
    pipeline.finished.wait()
    end_cpu = time.process_time()
    pipeline.stop()
    display.close()
    shown = display.shown_at
    out = {"frames": len(shown), "dropped": pipeline.capture_dropped}
    if fps:
        cpu = end_cpu - started_cpu
        out.update(fps_in=fps, latency_ms=_percentiles(display.latencies_ms(), (50, 99)),
                   cpu_ms_per_frame=round(1000.0 * cpu / max(len(shown), 1), 3))
        return out
    timed = shown[warmup:]
    elapsed = timed[-1] - timed[0] if len(timed) > 1 else float("nan")
    cpu = display.cpu_at[-1] - display.cpu_at[warmup] if len(timed) > 1 else float("nan")
    out.update(fps=round((len(timed) - 1) / elapsed, 1),
               cpu_ms_per_frame=round(1000.0 * cpu / max(len(timed) - 1, 1), 3),
               latency_ms=_percentiles(display.latencies_ms()[warmup:], (50, 99)))
    return out


def run_serial_loop(stages, frames: PreparedFrames, display_config, count: int) -> dict:
    """The TensorFlow raspberry_pi sample's loop, one thread: read, mirror (cv2.flip), crop the region found in
    the previous frame with OpenCV (slice, copyMakeBorder, resize), set_tensor, invoke, get_tensor, keypoints to
    pixels, next crop, classify, draw onto the frame, show. Same frames and display target as the pipeline; the
    null target shows nothing but the frame is still drawn on, as the sample always does."""
    import cv2
    import numpy as np

    from pose_appliance.inference.crop_region import next_crop_region, padded_full_frame
    from pose_appliance.types import Frame, FrameResult, LabelDecision, Pose

    interpreter = stages.estimator.model.interpreter
    detail = interpreter.get_input_details()[0]
    in_h, in_w = int(detail["shape"][1]), int(detail["shape"][2])
    output_index = interpreter.get_output_details()[0]["index"]
    display = _build_display(display_config, None)
    classifier = stages.classifier
    warmup = max(5, count // 10)
    crop = None
    for i in range(count + warmup):
        if i == warmup:
            started, cpu_started = time.perf_counter(), time.process_time()
        image = cv2.flip(frames.main(i), 1)
        height, width = image.shape[:2]
        if crop is None:
            crop = padded_full_frame(width, height)
        ymin, xmin, ymax, xmax = crop
        top, bottom = int(max(ymin, 0) * height), int(min(ymax, 1) * height)
        left, right = int(max(xmin, 0) * width), int(min(xmax, 1) * width)
        pad = [int(-ymin * height) if ymin < 0 else 0, int((ymax - 1) * height) if ymax >= 1 else 0,
               int(-xmin * width) if xmin < 0 else 0, int((xmax - 1) * width) if xmax >= 1 else 0]
        cropped = cv2.copyMakeBorder(image[top:bottom, left:right], *pad, cv2.BORDER_CONSTANT)
        model_input = cv2.resize(cropped, (in_w, in_h)).astype(np.uint8)
        interpreter.set_tensor(detail["index"], np.expand_dims(model_input, axis=0))
        interpreter.invoke()
        yxs = np.squeeze(interpreter.get_tensor(output_index)).copy()
        keypoints = np.column_stack([(xmin + yxs[:, 1] * (xmax - xmin)) * width,
                                     (ymin + yxs[:, 0] * (ymax - ymin)) * height, yxs[:, 2]]).astype(np.float32)
        crop = next_crop_region(keypoints, width, height)
        pose = Pose(keypoints)
        decision = LabelDecision(label=None)
        if classifier is not None:
            scores = classifier.classify(pose)
            best = int(np.argmax(scores))
            decision = LabelDecision(label=classifier.labels[best], score=float(scores[best]))
        result = FrameResult(frame=Frame(image, i, 0.0), pose=pose, decision=decision)
        stages.renderer.draw(image, result)  # the sample draws on the frame itself, then shows it
        display.show(result, _NO_OVERLAY, {})
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    display.close()
    return {"frames": count, "fps": round(count / elapsed, 1), "cpu_ms_per_frame": round(1000.0 * cpu / count, 3)}


class _NoOverlay:
    """The renderer handed to a display showing a frame that already has its overlay drawn."""

    def draw(self, canvas, result, *, scale=1.0, offset=(0, 0)) -> None:
        pass


_NO_OVERLAY = _NoOverlay()


def _percentiles(values: list[float], qs: tuple[int, ...]) -> dict:
    import numpy as np

    if not values:
        return {f"p{q}": None for q in qs}
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in qs}


# ----------------------------------------------------------------------------------------------- report
def target_checks(report: dict) -> list[dict]:
    """The issue's targets for Lightning INT8 on the CPU, at every thread count measured (the default is one
    thread per core; with as many model threads as cores, every other thread competes with the model)."""
    checks = []
    for config in report["configs"]:
        if config["model"] != "movenet_lightning_int8" or config["delegate"] != "cpu":
            continue
        threads = f"{config['threads']} thread{'s' if config['threads'] > 1 else ''}"
        for run in config["runs"]:
            if run["size"] == "640x480":
                checks.append({"what": f"{threads}: unpaced throughput / bare invoke, 640x480, {run['display']}",
                               "value": run["ratio"], "target": f">= {TARGETS['ratio']}",
                               "ok": run["ratio"] >= TARGETS["ratio"]})
                limit = config["invoke"]["median_ms"] + TARGETS["latency_margin_ms"]
                p99 = run["paced"]["latency_ms"]["p99"]
                checks.append({"what": f"{threads}: p99 capture->overlay at {run['paced']['fps_in']:g} fps, 640x480, "
                                       f"{run['display']} (ms)", "value": p99,
                               "target": f"<= {limit:.1f} (invoke + {TARGETS['latency_margin_ms']:g})",
                               "ok": p99 is not None and p99 <= limit})
        appliance = config["appliance"]
        checks.append({"what": f"{threads}: peak RSS of the appliance (MB)", "value": appliance["peak_rss_mb"],
                       "target": f"<= {TARGETS['peak_rss_mb']:g}",
                       "ok": appliance["peak_rss_mb"] <= TARGETS["peak_rss_mb"]})
        checks.append({"what": f"{threads}: process start -> first overlaid frame (s)",
                       "value": appliance["first_overlay_s"],
                       "target": f"<= {TARGETS['first_overlay_s']:g}",
                       "ok": appliance["first_overlay_s"] <= TARGETS["first_overlay_s"]})
    return checks


def format_tables(report: dict) -> str:
    lines = ["Model                      Size MB  Delegate  Thr  Invoke ms p50/p90  Invoke fps  "
             "Peak RSS MB  First overlay s  Latency p50/p99 ms (appliance)"]
    for c in report["configs"]:
        a = c["appliance"]
        lines.append(f"{c['model']:<26} {c['model_bytes'] / 1e6:7.1f}  {c['delegate']:<8} {c['threads']:>4}  "
                     f"{c['invoke']['median_ms']:>8.2f}/{c['invoke']['p90_ms']:<8.2f} {c['invoke']['fps']:>10.0f}  "
                     f"{a['peak_rss_mb']:>11.0f}  {a['first_overlay_s']:>15.2f}  "
                     f"{_pair(a['latency_ms'])}")
    lines += ["", "Model                      Thr  Frames           Display  Invoke fps  Pipeline fps  x invoke  "
              "TF-sample loop fps  x invoke  CPU ms/frame  @30fps p50/p99 ms  CPU ms/frame @30fps"]
    for c in report["configs"]:
        for r in c["runs"]:
            lines.append(f"{c['model']:<26} {c['threads']:>3}  {r['size']:<16} {r['display']:<7} "
                         f"{r['invoke_fps']:>11.0f}  {r['pipeline_fps']:>12.0f}  {r['ratio']:>8.2f}  "
                         f"{r['serial_fps']:>18.0f}  {r['serial_ratio']:>8.2f}  {r['cpu_ms_per_frame']:>12.2f}  "
                         f"{_pair(r['paced']['latency_ms']):>17}  {r['paced']['cpu_ms_per_frame']:>19.2f}")
    if report.get("checks"):
        lines += ["", "Targets (Lightning INT8, CPU, each thread count):"]
        for check in report["checks"]:
            lines.append(f"  {'ok  ' if check['ok'] else 'MISS'} {check['what']}: {check['value']} "
                         f"(target {check['target']})")
    m = report["machine"]
    lines += ["", f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('system')}, Python {m.get('python')}, "
                  f"{m.get('runtime', 'no runtime')}; load average before {m.get('load_before')}, after "
                  f"{m.get('load_after')}"]
    return "\n".join(lines)


def _pair(p: dict) -> str:
    values = list(p.values())
    return "/".join("-" if v is None else f"{v:.1f}" for v in values)
