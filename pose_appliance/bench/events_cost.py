"""What MQTT events cost the pipeline: fps with ``events.type = "mqtt"`` and the broker down (and, given one, a
broker up) against ``events.type = "none"``, in one process, the modes interleaved round by round (the order
alternating), each round reported as a ratio to the "none" run of the same round: frames per second, and the
process's CPU time per frame (all threads: paho's and the sender's included), which other load on the machine
disturbs less than the frame rate. ``pose-appliance bench --events``.

The broker-down sink is the real one: paho retries the connection with backoff on its own thread while the
pipeline offers every result and the events pile up in the bounded queue (dropping the oldest).
"""

from __future__ import annotations

import statistics
import tempfile
from typing import Any


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
    dropped: list[int] = []
    with tempfile.TemporaryDirectory(prefix="pose-bench-") as scratch:
        display_config = display_config_for("null", (size["width"], size["height"]), scratch)
        run_pipeline(stages, prepared, display_config, max(50, frames // 5))  # warm caches and the model
        for round_index in range(rounds):
            order = names if round_index % 2 == 0 else names[::-1]
            for name in order:
                sink = modes[name]()
                sink.start()
                try:
                    measured = run_pipeline(stages, prepared, display_config, frames, events=sink)
                finally:
                    sink.close()
                results[name].append(measured["fps"])
                cpu[name].append(measured["cpu_ms_per_frame"])
                if name == "broker_down":
                    dropped.append(sink.dropped_events)
    ratios = {name: [round(fps / base, 4) for fps, base in zip(results[name], results["none"])]
              for name in names if name != "none"}
    cpu_ratios = {name: [round(ms / base, 4) for ms, base in zip(cpu[name], cpu["none"])]
                  for name in names if name != "none"}
    return {"model": stages.model_name, "delegate": stages.estimator.delegate, "size": size["name"],
            "threads": threads, "frames": frames, "rounds": rounds, "fps": results, "cpu_ms_per_frame": cpu,
            "fps_ratios": ratios, "median_fps_ratio": {name: statistics.median(r) for name, r in ratios.items()},
            "cpu_ratios": cpu_ratios,
            "median_cpu_ratio": {name: statistics.median(r) for name, r in cpu_ratios.items()},
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
    return "\n".join(lines)


def _closed_port() -> int:
    """A port nothing listens on (bound then released): connecting is refused, like a broker that is down."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
