"""Measuring instruments: bare ``invoke()`` timing, a display wrapper that notes when each overlay was written, the
display targets (null, or fbdev on a file-backed framebuffer), and the real Pipeline run on prepared frames."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from pose_appliance.bench.frames import PreparedFrames, prepared_source
from pose_appliance.camera import FrameSource
from pose_appliance.config import DisplayConfig
from pose_appliance.display.display import Display
from pose_appliance.pipeline import Stages
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult


class InvokeTimer:
    """Times ``interpreter.invoke()`` alone, on an input tensor filled once with mid-grey: latency, rate, and the
    process CPU time per invoke (every model thread, spinning included)."""

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
        started, cpu_started = clock(), time.process_time()
        for i in range(count):
            t0 = clock()
            invoke()
            times[i] = clock() - t0
        total, cpu = clock() - started, time.process_time() - cpu_started
        ms = times * 1000.0
        return {"median_ms": round(float(np.median(ms)), 3), "p90_ms": round(float(np.percentile(ms, 90)), 3),
                "mean_ms": round(float(ms.mean()), 3), "fps": round(count / total, 1),
                "cpu_ms": round(1000.0 * cpu / count, 3)}


def display_config_for(kind: str, screen: tuple[int, int], scratch: str) -> DisplayConfig:
    """null, or fbdev on a file-backed XRGB8888 framebuffer of ``screen`` size with its fake sysfs entries
    (``sys/`` beside the device file, where :func:`build_display` looks)."""
    from pose_appliance.config import FbdevDisplayConfig

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
    return DisplayConfig(type="fbdev", fbdev=FbdevDisplayConfig(device=str(device)))


def build_display(display_config: DisplayConfig, source: FrameSource | None) -> Display:
    """The display as the appliance wraps it; the fbdev target on the fake sysfs tree beside its device."""
    from pose_appliance.display import ResilientDisplay, open_display
    from pose_appliance.display.fbdev_display import FbdevDisplay

    def make() -> Display:
        if display_config.type == "fbdev":
            sysfs_root = Path(display_config.fbdev.device).parent / "sys"
            return FbdevDisplay(display_config.fbdev, sysfs_root=str(sysfs_root))
        return open_display(display_config, camera=source)

    return ResilientDisplay(make, display_config)


class TimingDisplay(Display):
    """Wraps the real display: notes when each overlay was written, the process CPU time then, and how old its
    frame was by then."""

    def __init__(self, display: Display):
        self.display = display
        self.name = display.name
        self.first_shown = threading.Event()
        self.first_shown_at = 0.0
        self.reset()

    @property
    def overlay_only(self) -> bool:
        return self.display.overlay_only

    def reset(self) -> None:
        self.shown_at: list[float] = []
        self.cpu_at: list[float] = []
        self.latencies: list[float] = []

    def open(self, frame_size: tuple[int, int]) -> None:
        self.display.open(frame_size)

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
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


def reset_stages(stages: Stages) -> None:
    stages.estimator.reset()
    if stages.smoother is not None:
        stages.smoother.reset()


def run_pipeline(stages, frames: PreparedFrames, display_config, count: int, *, fps: float | None = None,
                 events=None) -> dict:
    """The real Pipeline on prepared frames. Unpaced: throughput after a warm-up of count/10 frames. Paced:
    capture -> overlay latency of every frame shown and CPU time per frame. ``events``: an event sink beside the
    display (default: none)."""
    from pose_appliance.pipeline import Pipeline

    reset_stages(stages)
    warmup = 0 if fps else max(5, count // 10)
    source = prepared_source(frames, count + warmup, fps)
    display = TimingDisplay(build_display(display_config, source))
    pipeline = Pipeline(source, stages, display, events=events)
    started_cpu = time.process_time()
    pipeline.start()
    pipeline.finished.wait()
    end_cpu = time.process_time()
    pipeline.stop()
    display.close()
    shown = display.shown_at
    out: dict[str, Any] = {"frames": len(shown), "dropped": pipeline.capture_dropped}
    if fps:
        cpu = end_cpu - started_cpu
        out.update(fps_in=fps, latency_ms=percentiles(display.latencies_ms(), (50, 99)),
                   cpu_ms_per_frame=round(1000.0 * cpu / max(len(shown), 1), 3))
        return out
    timed = shown[warmup:]
    elapsed = timed[-1] - timed[0] if len(timed) > 1 else float("nan")
    cpu = display.cpu_at[-1] - display.cpu_at[warmup] if len(timed) > 1 else float("nan")
    out.update(fps=round((len(timed) - 1) / elapsed, 1),
               cpu_ms_per_frame=round(1000.0 * cpu / max(len(timed) - 1, 1), 3),
               latency_ms=percentiles(display.latencies_ms()[warmup:], (50, 99)))
    return out


def percentiles(values: list[float], qs: tuple[int, ...]) -> dict:
    import numpy as np

    if not values:
        return {f"p{q}": None for q in qs}
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in qs}
