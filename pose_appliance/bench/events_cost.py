"""What MQTT events cost the pipeline: ``pose-appliance bench --events``.

One run of the real pipeline (unpaced, 640x480 frames decoded ahead, the squat counter on) offers its results in
blocks of ``BLOCK_FRAMES`` frames to each mode in turn: ``none`` (``NullEventSink``), ``broker_down`` (the real MQTT
sink towards a port where nothing listens: paho retries with backoff on its own thread while events pile up in the
bounded queue) and, given ``--broker``, ``broker_up``; the order reverses every cycle. Each block's frame rate and
process CPU time per frame (all threads) are compared with the ``none`` block of the same cycle, a second or two
apart, so load from elsewhere on the machine hits both sides of each ratio alike. Reported: the overall ratio
(every mode gets the same frames, so the ratio of total times) and the median and quartiles of the per-cycle ratios.
Beside the ratios the events' own work is measured directly: the time ``offer`` takes on the inference thread and
the CPU time of the sink's threads (sender, paho), per frame and as a share of the pipeline's CPU per frame.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from typing import Any

BLOCK_FRAMES = 30


class InterleavedSink:
    """Hands each block of frames to the next mode's sink, noting when each block began (wall and CPU time), how
    long the offers took, and the CPU time of each sink's own threads."""

    name = "interleaved"

    def __init__(self, sinks: dict[str, Any], block: int = BLOCK_FRAMES):
        self.sinks, self.block = sinks, block
        self.names = list(sinks)
        self.count = 0
        self.current = self.names[0]
        self.blocks: list[tuple[str, float, float]] = []  # (mode, perf_counter, process_time) at its first frame
        self.offer_seconds = dict.fromkeys(self.names, 0.0)
        self.offers = dict.fromkeys(self.names, 0)
        self.threads_seconds = dict.fromkeys(self.names, 0.0)

    def start(self) -> None:
        for name, sink in self.sinks.items():
            sink.start()
            self.threads_seconds[name] = -_threads_cpu(sink)

    def outdated(self) -> bool:
        return False

    def offer(self, result: Any, model_name: str, delegate: str) -> None:
        if self.count % self.block == 0:
            cycle, position = divmod(self.count // self.block, len(self.names))
            self.current = (self.names if cycle % 2 == 0 else self.names[::-1])[position]
            self.blocks.append((self.current, time.perf_counter(), time.process_time()))
        self.count += 1
        started = time.perf_counter()
        self.sinks[self.current].offer(result, model_name, delegate)
        self.offer_seconds[self.current] += time.perf_counter() - started
        self.offers[self.current] += 1

    def close(self) -> None:
        for name, sink in self.sinks.items():
            self.threads_seconds[name] += _threads_cpu(sink)
            sink.close()

    def cycles(self) -> list[dict[str, tuple[float, float]]]:
        """Per complete cycle: mode -> (fps, CPU ms per frame) of its block. The first cycle (warm-up) is left out."""
        timed = [(name, t1 - t0, c1 - c0) for (name, t0, c0), (_, t1, c1) in zip(self.blocks, self.blocks[1:])]
        size = len(self.names)
        out = []
        for first in range(size, len(timed) - size + 1, size):
            out.append({name: (self.block / seconds, 1000.0 * cpu / self.block)
                        for name, seconds, cpu in timed[first:first + size]})
        return out


def _threads_cpu(sink: Any) -> float:
    threads = sink.threads() if hasattr(sink, "threads") else []
    return sum(time.clock_gettime(time.pthread_getcpuclockid(t.ident)) for t in threads)


def run_events_cost(*, models_dir: str, video: str, frames: int, broker: str = "", exercise: str = "squat",
                    threads: int = 1) -> dict:
    """``frames`` per mode, in blocks of BLOCK_FRAMES interleaved with the other modes."""
    from pose_appliance.app import build_stages
    from pose_appliance.bench.frames import PreparedFrames
    from pose_appliance.bench.measure import display_config_for, run_pipeline
    from pose_appliance.bench.plan import parse_size
    from pose_appliance.bench.workers import FRAME_BUDGET_BYTES
    from pose_appliance.config import Config, replace
    from pose_appliance.events import NullEventSink
    from pose_appliance.events.mqtt_sink import MqttEventSink

    config = Config()
    for dotted, value in (("service.models_dir", models_dir), ("counting.exercise", exercise),
                          ("model.threads", threads)):
        config = replace(config, dotted, value)
    stages = build_stages(config)
    size = parse_size("640x480")
    prepared = PreparedFrames.from_video(video, size, stages.estimator.input_size, FRAME_BUDGET_BYTES)

    def mqtt_sink(host: str, port: int, device: str) -> Any:
        settings = config
        for key, value in (("host", host), ("port", port), ("device", device)):
            settings = replace(settings, f"events.mqtt.{key}", value)
        return MqttEventSink(settings.events.mqtt)

    sinks: dict[str, Any] = {"none": NullEventSink(),
                             "broker_down": mqtt_sink("127.0.0.1", _closed_port(), "bench_down")}
    if broker:
        host, _, port = broker.rpartition(":")
        sinks["broker_up"] = mqtt_sink(host or "127.0.0.1", int(port), "bench_up")
    interleaved = InterleavedSink(sinks)
    cycles_wanted = max(3, frames // BLOCK_FRAMES) + 2  # + the warm-up cycle and one to close the last block
    with tempfile.TemporaryDirectory(prefix="pose-bench-") as scratch:
        display_config = display_config_for("null", (size["width"], size["height"]), scratch)
        interleaved.start()
        try:
            run_pipeline(stages, prepared, display_config, cycles_wanted * len(sinks) * BLOCK_FRAMES,
                         events=interleaved)
        finally:
            interleaved.close()
    cycles = interleaved.cycles()
    report: dict[str, Any] = {
        "model": stages.model_name, "delegate": stages.estimator.delegate, "size": size["name"], "threads": threads,
        "block_frames": BLOCK_FRAMES, "cycles": len(cycles),
        "fps": {name: [round(c[name][0], 1) for c in cycles] for name in sinks},
        "cpu_ms_per_frame": {name: [round(c[name][1], 3) for c in cycles] for name in sinks},
        "broker_down_events_dropped": sinks["broker_down"].dropped_events}
    for name in sinks:
        if name == "none":
            continue
        fps_ratios = [c[name][0] / c["none"][0] for c in cycles]
        cpu_ratios = [c[name][1] / c["none"][1] for c in cycles if c["none"][1] > 0]
        report.setdefault("median_fps_ratio", {})[name] = round(statistics.median(fps_ratios), 4)
        report.setdefault("fps_ratio_quartiles", {})[name] = [round(q, 4) for q in statistics.quantiles(fps_ratios)]
        report.setdefault("median_cpu_ratio", {})[name] = round(statistics.median(cpu_ratios), 4)
        # The same frames per mode: the ratio of the total times is the ratio of the overall frame rates.
        report.setdefault("overall_fps_ratio", {})[name] = round(
            sum(1 / c["none"][0] for c in cycles) / sum(1 / c[name][0] for c in cycles), 4)
        report.setdefault("overall_cpu_ratio", {})[name] = round(
            sum(c[name][1] for c in cycles) / sum(c["none"][1] for c in cycles), 4)
    cpu_per_frame = statistics.median(ms for values in report["cpu_ms_per_frame"].values() for ms in values)
    for name in sinks:
        offers = max(interleaved.offers[name], 1)
        offer_us = 1e6 * interleaved.offer_seconds[name] / offers
        threads_us = 1e6 * interleaved.threads_seconds[name] / offers
        report.setdefault("offer_us_per_frame", {})[name] = round(offer_us, 2)
        report.setdefault("threads_us_per_frame", {})[name] = round(threads_us, 2)
        report.setdefault("events_share_of_cpu", {})[name] = round((offer_us + threads_us) / (1000 * cpu_per_frame), 5)
    return report


def format_events_cost(report: dict) -> str:
    title = (f"events cost, {report['model']} on {report['delegate']} ({report['threads']} thread), "
             f"{report['size']}: {report['cycles']} cycles of {report['block_frames']}-frame blocks per mode, "
             "interleaved in one run")
    lines = [title]
    for name, ratio in report["median_fps_ratio"].items():
        low, _, high = report["fps_ratio_quartiles"][name]
        lines.append(f"  {name:<12} fps ratio to none: overall {report['overall_fps_ratio'][name]:.3f}, per cycle "
                     f"median {ratio:.3f} (quartiles {low:.3f}-{high:.3f}); CPU per frame ratio: overall "
                     f"{report['overall_cpu_ratio'][name]:.3f}, median {report['median_cpu_ratio'][name]:.3f}")
    for name in report["fps"]:
        lines.append(f"  {name:<12} median {statistics.median(report['fps'][name]):6.1f} fps; offer "
                     f"{report['offer_us_per_frame'][name]:.1f} us/frame + the sink's threads "
                     f"{report['threads_us_per_frame'][name]:.1f} us/frame = "
                     f"{100 * report['events_share_of_cpu'][name]:.2f} % of the pipeline's CPU per frame")
    return "\n".join(lines)


def _closed_port() -> int:
    """A port nothing listens on (bound then released): connecting is refused, like a broker that is down."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
