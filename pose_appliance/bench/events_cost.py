"""What MQTT events cost the pipeline: fps with ``events.type = "mqtt"`` and the broker down (and, given one, a
broker up) against ``events.type = "none"``, in one process, the modes interleaved round by round (the order
alternating), each round reported as a ratio to the "none" run of the same round: frames per second, and the
process's CPU time per frame (all threads: paho's and the sender's included), which other load on the machine
disturbs less than the frame rate. Beside the ratios, the events' own work is measured directly: the time
``offer`` takes on the inference thread, and the CPU time of the sink's threads (sender, paho), per frame and as a
share of the pipeline's CPU time per frame. ``pose-appliance bench --events``.

The broker-down sink is the real one: paho retries the connection with backoff on its own thread while the
pipeline offers every result and the events pile up in the bounded queue (dropping the oldest).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from typing import Any


class TimedSink:
    """An event sink that notes how long ``offer`` takes on the pipeline's thread, and its threads' CPU time."""

    def __init__(self, sink: Any):
        self.sink = sink
        self.name = sink.name
        self.offer_seconds = 0.0
        self.offers = 0
        self.threads_cpu_at_start = 0.0

    def start(self) -> None:
        self.sink.start()
        self.threads_cpu_at_start = self.threads_cpu()

    def offer(self, result: Any, model_name: str, delegate: str) -> None:
        started = time.perf_counter()
        self.sink.offer(result, model_name, delegate)
        self.offer_seconds += time.perf_counter() - started
        self.offers += 1

    def threads_cpu(self) -> float:
        threads = getattr(self.sink, "threads", list)()
        return sum(time.clock_gettime(time.pthread_getcpuclockid(t.ident)) for t in threads)

    def close(self) -> None:
        self.sink.close()


def run_events_cost(*, models_dir: str, video: str, frames: int, rounds: int, broker: str = "",
                    exercise: str = "squat", threads: int = 1) -> dict:
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

    def mqtt_sink(host: str, port: int) -> Any:
        mqtt = replace(replace(replace(config, "events.mqtt.host", host), "events.mqtt.port", port),
                       "events.mqtt.device", "bench").events.mqtt
        return MqttEventSink(mqtt)

    modes: dict[str, Any] = {"none": NullEventSink, "broker_down": lambda: mqtt_sink("127.0.0.1", _closed_port())}
    if broker:
        host, _, port = broker.rpartition(":")
        modes["broker_up"] = lambda: mqtt_sink(host or "127.0.0.1", int(port))
    names = list(modes)
    results: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    offer_us: dict[str, list[float]] = {name: [] for name in names}
    threads_us: dict[str, list[float]] = {name: [] for name in names}
    dropped: list[int] = []
    with tempfile.TemporaryDirectory(prefix="pose-bench-") as scratch:
        display_config = display_config_for("null", (size["width"], size["height"]), scratch)
        run_pipeline(stages, prepared, display_config, max(50, frames // 5))  # warm caches and the model
        for round_index in range(rounds):
            order = names if round_index % 2 == 0 else names[::-1]
            for name in order:
                sink = TimedSink(modes[name]())
                sink.start()
                try:
                    measured = run_pipeline(stages, prepared, display_config, frames, events=sink)
                    threads_seconds = sink.threads_cpu() - sink.threads_cpu_at_start
                finally:
                    sink.close()
                results[name].append(measured["fps"])
                cpu[name].append(measured["cpu_ms_per_frame"])
                offer_us[name].append(round(1e6 * sink.offer_seconds / max(sink.offers, 1), 2))
                threads_us[name].append(round(1e6 * threads_seconds / max(sink.offers, 1), 2))
                if name == "broker_down":
                    dropped.append(sink.sink.dropped_events)
    ratios = {name: [round(fps / base, 4) for fps, base in zip(results[name], results["none"])]
              for name in names if name != "none"}
    cpu_ratios = {name: [round(ms / base, 4) for ms, base in zip(cpu[name], cpu["none"])]
                  for name in names if name != "none"}
    return {"model": stages.model_name, "delegate": stages.estimator.delegate, "size": size["name"],
            "threads": threads, "frames": frames, "rounds": rounds, "fps": results, "cpu_ms_per_frame": cpu,
            "fps_ratios": ratios, "median_fps_ratio": {name: statistics.median(r) for name, r in ratios.items()},
            "cpu_ratios": cpu_ratios,
            "median_cpu_ratio": {name: statistics.median(r) for name, r in cpu_ratios.items()},
            "offer_us_per_frame": offer_us, "threads_us_per_frame": threads_us,
            "events_share_of_cpu": {name: round(statistics.median(
                (o + t) / (1000.0 * c) for o, t, c in zip(offer_us[name], threads_us[name], cpu[name])), 5)
                for name in names},
            "broker_down_events_dropped": dropped}


def format_events_cost(report: dict) -> str:
    title = (f"events cost, {report['model']} on {report['delegate']} ({report['threads']} thread), "
             f"{report['size']}, {report['frames']} frames x {report['rounds']} interleaved rounds; ratios are to "
             "events.type = none in the same round")
    lines = [title]
    for name, values in report["fps"].items():
        lines.append(f"  {name:<12} fps     " + " ".join(f"{v:6.1f}" for v in values))
        lines.append(f"  {'':<12} cpu ms  " + " ".join(f"{v:6.2f}" for v in report["cpu_ms_per_frame"][name]))
    for name in report["fps_ratios"]:
        lines.append(f"  {name}: fps ratio median {report['median_fps_ratio'][name]:.3f} "
                     f"({' '.join(f'{v:.3f}' for v in report['fps_ratios'][name])}); CPU per frame ratio median "
                     f"{report['median_cpu_ratio'][name]:.3f} ({' '.join(f'{v:.3f}' for v in report['cpu_ratios'][name])})")
    for name in report["fps"]:
        lines.append(f"  {name}: offer {statistics.median(report['offer_us_per_frame'][name]):.1f} us/frame on the "
                     f"inference thread, the sink's threads {statistics.median(report['threads_us_per_frame'][name]):.1f}"
                     f" us/frame: {100 * report['events_share_of_cpu'][name]:.2f} % of the pipeline's CPU per frame")
    return "\n".join(lines)


def _closed_port() -> int:
    """A port nothing listens on (bound then released): connecting is refused, like a broker that is down."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
