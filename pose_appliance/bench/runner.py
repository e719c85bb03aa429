"""The parent side of a bench run: one worker process per measurement, the report assembled from their results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from pose_appliance.bench.report import TARGETS, loadavg, machine_info, target_checks


def run_bench(plan: dict, command: str) -> dict:
    """Measure every configuration of ``plan`` (from :func:`~pose_appliance.bench.plan.make_plan`), each in fresh
    worker processes; ``command`` is the command line that reproduces the run."""
    started = time.monotonic()
    report: dict[str, Any] = {"machine": machine_info(), "command": command,
                              "settings": plan["settings"], "targets": TARGETS, "configs": []}
    configs = plan["configs"]
    print(f"bench: {len(configs)} configuration{'s' * (len(configs) > 1)} (model, delegate, threads), each in "
          "two worker processes; about 3-4 minutes each with the defaults on 2 cores", file=sys.stderr, flush=True)
    for number, (model, delegate, threads) in enumerate(configs, 1):
        title = f"bench {number}/{len(configs)} {model} {delegate} {threads} thread{'s' * (threads > 1)}"
        job = dict(plan["settings"], model=model, delegate=delegate, threads=threads, title=title)
        measured = spawn(dict(job, kind="pipeline"))
        measured["bench_peak_rss_mb"] = measured.pop("peak_rss_mb")
        appliance = spawn(dict(job, kind="appliance"))
        measured["appliance"] = appliance
        report["configs"].append(measured)
    report["machine"]["load_after"] = loadavg()
    report["seconds"] = round(time.monotonic() - started, 1)
    report["checks"] = target_checks(report)
    return report


def spawn(job: dict) -> dict:
    """Run one worker process; its peak RSS comes from wait4, its result from the last line of its stdout."""
    job = dict(job, spawned_at=time.monotonic())
    command = [sys.executable, "-m", "pose_appliance.bench.workers", json.dumps(job)]
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
