"""The bench report: the machine, the targets checked, and the tables printed."""

from __future__ import annotations

import os
import platform
from pathlib import Path

TARGETS = {"ratio": 0.9, "latency_margin_ms": 10.0, "peak_rss_mb": 200.0, "first_overlay_s": 2.0}


def machine_info() -> dict:
    import numpy

    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "machine": platform.machine(), "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "numpy": numpy.__version__, "load_before": loadavg()}
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


def loadavg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


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
    lines += ["", "Each figure of the unpaced runs is the median of the rounds, with (min-max) over the rounds.",
              "Model                      Thr  Frames           Display  Invoke fps  Pipeline fps        "
              "x invoke            Serial loop* fps    x invoke            CPU ms/frame        "
              "outside invoke      serial outside      @30fps p50/p99 ms**  CPU ms/frame @30fps"]
    for c in report["configs"]:
        for r in c["runs"]:
            s = r.get("spread") or {}
            serial_outside = _spread(s, "serial_cpu_ms_outside_invoke", r.get("serial_cpu_ms_outside_invoke", 0.0), 2)
            lines.append(f"{c['model']:<26} {c['threads']:>3}  {r['size']:<16} {r['display']:<7} "
                         f"{r['invoke_fps']:>11.0f}  {_spread(s, 'pipeline_fps', r['pipeline_fps'], 0):<18}  "
                         f"{_spread(s, 'ratio', r['ratio'], 2):<18}  "
                         f"{_spread(s, 'serial_fps', r['serial_fps'], 0):<18}  "
                         f"{_spread(s, 'serial_ratio', r['serial_ratio'], 2):<18}  "
                         f"{_spread(s, 'cpu_ms_per_frame', r['cpu_ms_per_frame'], 2):<18}  "
                         f"{_spread(s, 'cpu_ms_outside_invoke', r.get('cpu_ms_outside_invoke', 0.0), 2):<18}  "
                         f"{serial_outside:<18}  "
                         f"{_pair(r['paced']['latency_ms']):>19}  {r['paced']['cpu_ms_per_frame']:>19.2f}")
    lines += ["", "*  Serial loop: a re-creation of the TensorFlow raspberry_pi sample's serial loop (read, crop with "
                  "slice + copyMakeBorder + cv2.resize, set_tensor,",
              "   invoke, classify, draw, show) on the appliance's own interpreter, classifier and renderer: not the "
                  "sample's code (scripts/compare-tf-sample",
              "   runs that). Same work as the pipeline: with the null display neither draws; with fbdev both draw "
                  "and write the framebuffer.",
              "CPU ms/frame: the whole process's CPU time per frame (every thread); outside invoke: that minus "
                  "the CPU time of a bare invoke measured beside it.",
              "** null display: capture -> hand-off to the display (nothing is drawn); fbdev: capture -> overlay "
                  "written to the framebuffer."]
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


def _spread(spread: dict, key: str, median: float, digits: int) -> str:
    """``median (min-max)`` of a figure over the rounds (reports written before the spread was kept: the median)."""
    s = spread.get(key)
    if not s:
        return f"{median:.{digits}f}"
    return f"{median:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def _pair(p: dict) -> str:
    values = list(p.values())
    return "/".join("-" if v is None else f"{v:.1f}" for v in values)
