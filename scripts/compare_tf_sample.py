"""The appliance against the TensorFlow raspberry_pi pose sample's own code, on the same video, model and frames.

Run through ``scripts/compare-tf-sample PATH_TO_TENSORFLOW_EXAMPLES_CHECKOUT``. Nothing of the sample is copied or
changed: its ``pose_estimation.run()`` (which uses its ``ml.Movenet``, ``ml.Classifier`` and ``utils.visualize``,
4 interpreter threads as it ships) is imported from the checkout and called. Only its two ends are replaced,
because this is a headless comparison on a video file:

- ``cv2.VideoCapture(camera_id)`` gives the frames of the video (decoded per read, like a camera read), and
  ends after ``--frames`` frames;
- ``cv2.imshow``, ``cv2.waitKey`` and ``cv2.destroyAllWindows`` do nothing (no window; the sample's
  ``waitKey(1)`` would also sleep a millisecond per frame, so this favours the sample).

The sample checks the model name (``movenet_lightning``) and loads ``movenet_lightning.tflite`` from its working
directory: that is a link to the appliance's Lightning INT8 file, in a scratch directory under /tmp. The sample
imports ``ai_edge_litert.interpreter`` itself (tensorflow/examples after May 2025), the runtime the appliance
uses, so no shim is needed; an older checkout that imports ``tflite_runtime`` gets a one-line module on its path,
made in the scratch directory, that maps ``tflite_runtime.interpreter`` to ``ai_edge_litert.interpreter`` (said
in the output when used).

Measured, sides interleaved (sample, appliance, appliance, sample, ...) because the host is shared:

1. Whole process: ``pose-appliance run --source VIDEO --display null --frames N`` against the sample's ``run()``
   in a fresh Python: wall time from spawn to exit and CPU time (user + system, every thread, ``wait4``). Both
   run from bytecode caches, as installed code does (``PYTHONDONTWRITEBYTECODE`` is cleared for the children and
   one untimed run of each side comes first). A third process, the **floor**, does only the steps no program
   doing the same frames can skip: start Python, import numpy, OpenCV and LiteRT, load the model with one thread
   per core, decode the frames (on a thread) and resize and invoke each, with numpy's OpenBLAS threads off as
   the appliance has them. A reference point, not a proof: another design could still do these steps faster
   (two one-thread interpreters, say), but the appliance, which runs the same model with the same threads,
   cannot end before it.
2. In one process per side: the loop's frames per second over frames decoded ahead of time, in blocks between
   blocks of bare ``interpreter.invoke()`` on the same interpreter (the sample's own interpreter, 4 threads; the
   appliance's, one thread per core). Each block is compared with the mean of the bare rates before and after it.
3. Timeline: the floor and ``pose-appliance run`` again, with each invoke noted in ms after spawn (the parent
   passes its ``time.perf_counter()``, CLOCK_MONOTONIC, at spawn): when the first starts, when the last ends and
   what they add up to. The appliance runs through ``--appliance-timeline-worker``, which imports its model
   runtime module first to wrap ``LoadedModel.invoke`` and then calls the console script's entry point.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from git_export import export_head

SAMPLE_SUBDIR = Path("lite/examples/pose_estimation/raspberry_pi")
POSE_MODEL = "movenet_lightning_int8"
CLASSIFIER = "yoga_classifier"
TARGETS = {"wall": 0.75, "cpu": 1.0, "inprocess": 0.95}
TFLITE_RUNTIME_SHIM = "from ai_edge_litert.interpreter import *  # noqa: F401,F403  (made by compare-tf-sample)\n"


# ------------------------------------------------------------------------------------------------ the sample
def _sample_worker(mode: str, job: dict) -> None:
    """In a child whose cwd holds ``movenet_lightning.tflite`` and whose sys.path starts with the sample's dir.
    ``process``: the sample's run() on the video, decoded per read. ``inprocess``: on frames decoded ahead, with
    bare invokes of its own interpreter between blocks of frames."""
    import cv2

    video_capture = cv2.VideoCapture
    decoded = _decode(job["video"], job["decoded"]) if mode == "inprocess" else []
    total = job["frames"] if mode == "process" else job["warmup"] + job["blocks"] * job["block"]

    import pose_estimation  # type: ignore[import-not-found]  # the sample's own module, from its checkout

    movenets: list = []

    class RecordingMovenet(pose_estimation.Movenet):
        """The sample's Movenet, unchanged; remembers the instance so bare invokes can use its interpreter."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            movenets.append(self)

    bare: list[float] = []
    loops: list[float] = []

    class FileCamera:
        """What ``cv2.VideoCapture(camera_id)`` returns inside the sample: the video's frames."""

        def __init__(self, _camera_id):
            self._capture = video_capture(job["video"]) if mode == "process" else None
            self._read = 0
            self._block_start = 0.0

        def isOpened(self) -> bool:
            if self._read == total and self._capture is None and len(loops) < len(bare):
                loops.append(job["block"] / (time.perf_counter() - self._block_start))
            return self._read < total

        def set(self, *_args) -> bool:
            return True

        def read(self):
            index = self._read
            self._read += 1
            if self._capture is not None:
                return self._capture.read()
            if index >= job["warmup"] and (index - job["warmup"]) % job["block"] == 0:
                if index > job["warmup"]:
                    loops.append(job["block"] / (time.perf_counter() - self._block_start))
                bare.append(_bare_invoke_fps(movenets[0]._interpreter, job["invokes"]))
                self._block_start = time.perf_counter()
            return True, _forwards_backwards(decoded, index)

        def release(self) -> None:
            if self._capture is not None:
                self._capture.release()

    cv2.VideoCapture = FileCamera  # type: ignore[misc,assignment]  # the sample's camera is the video
    cv2.imshow = lambda *_args: None
    cv2.waitKey = lambda *_args: -1
    cv2.destroyAllWindows = lambda: None
    pose_estimation.Movenet = RecordingMovenet
    pose_estimation.run("movenet_lightning", "", job["classifier"], job["labels"], 0, 640, 480)
    if mode == "inprocess":
        bare.append(_bare_invoke_fps(movenets[0]._interpreter, job["invokes"]))
        print(json.dumps({"threads": 4, "blocks": _ratios(bare, loops)}), flush=True)


# --------------------------------------------------------------------------------------------- the appliance
def _appliance_worker(job: dict) -> None:
    """The real Pipeline, its stages built as ``run`` builds them, on frames decoded ahead: each block is a
    pipeline run of ``warmup + block`` frames, timed over the last ``block``, between bare invokes."""
    import cv2

    from pose_appliance.app import build_stages
    from pose_appliance.bench.measure import build_display, display_config_for
    from pose_appliance.camera import FrameSource
    from pose_appliance.config import Config, replace
    from pose_appliance.inference.tflite_estimator import TFLiteEstimator
    from pose_appliance.pipeline import Pipeline

    config = replace(replace(Config(), "service.models_dir", job["models_dir"]), "model.name", POSE_MODEL)
    stages = build_stages(config)
    estimator = stages.estimator
    if not isinstance(estimator, TFLiteEstimator):  # the bare invoke needs the interpreter
        raise SystemExit(f"{POSE_MODEL} did not load as a TFLite estimator")
    interpreter = estimator.model.interpreter
    decoded = _decode(job["video"], job["decoded"])
    warmup, block = job["warmup"], job["block"]

    class DecodedFrames(FrameSource):
        """Frames decoded ahead; a read converts BGR to RGB, as the appliance's OpenCV camera source does."""

        name = "decoded"

        def __init__(self):
            self._next = 0

        def read(self):
            if self._next >= warmup + block:
                return None
            self._next += 1
            image = cv2.cvtColor(_forwards_backwards(decoded, self._next - 1), cv2.COLOR_BGR2RGB)
            return self.make_frame(image, self._next - 1)

    class TimedDisplay:
        """The display target, plus when each result was shown."""

        def __init__(self, display):
            self.display, self.name, self.shown_at = display, getattr(display, "name", "display"), []

        def __getattr__(self, name):
            return getattr(self.display, name)

        def show(self, result, renderer, status) -> None:
            self.display.show(result, renderer, status)
            self.shown_at.append(time.perf_counter())

    size = (decoded[0].shape[1], decoded[0].shape[0])
    scratch = tempfile.mkdtemp(prefix="compare-tf-sample-fb-")
    display_config = display_config_for(job["display"], size, scratch)  # fbdev: a file-backed framebuffer
    bare, loops = [_bare_invoke_fps(interpreter, job["invokes"])], []
    for _ in range(job["blocks"]):
        stages.estimator.reset()
        if stages.smoother is not None:
            stages.smoother.reset()
        display = TimedDisplay(build_display(display_config, None))  # opened on the first frame, as `run` does
        pipeline = Pipeline(DecodedFrames(), stages, display)
        pipeline.start()
        pipeline.finished.wait()
        pipeline.stop()
        display.close()
        shown = display.shown_at[warmup:]
        loops.append((len(shown) - 1) / (shown[-1] - shown[0]))
        bare.append(_bare_invoke_fps(interpreter, job["invokes"]))
    shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps({"threads": config.model.threads or os.cpu_count(), "display": job["display"],
                      "blocks": _ratios(bare, loops)}), flush=True)


# ----------------------------------------------------------------------------------------------- the floor
def _floor_worker(job: dict) -> None:
    """The least a process can do for the same frames: start Python, import numpy, OpenCV and LiteRT, load the
    model (one thread per core), then decode each frame on a thread while the main thread resizes the previous
    one to the model input, converts it to RGB and invokes. Numpy's OpenBLAS threads are off, as the appliance's
    command line sets them. No crop tracking, classifier, smoothing or drawing. Neither side can
    end before this does, so it bounds every whole-process ratio from below."""
    import queue
    import threading

    import cv2
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=job["model"], num_threads=os.cpu_count())
    interpreter.allocate_tensors()
    tensor = interpreter.get_input_details()[0]
    height, width = (int(v) for v in tensor["shape"][1:3])
    frames: queue.Queue = queue.Queue(maxsize=2)

    def decode() -> None:
        capture = cv2.VideoCapture(job["video"])
        for _ in range(job["frames"]):
            ok, bgr = capture.read()
            if not ok:
                break
            frames.put(bgr)
        capture.release()
        frames.put(None)

    threading.Thread(target=decode, daemon=True).start()
    invokes: list[tuple[float, float]] = []
    while (bgr := frames.get()) is not None:
        resized = cv2.cvtColor(cv2.resize(bgr, (width, height)), cv2.COLOR_BGR2RGB)
        interpreter.set_tensor(tensor["index"], resized[np.newaxis].astype(tensor["dtype"], copy=False))
        started = time.perf_counter()
        interpreter.invoke()
        invokes.append((started, time.perf_counter()))
    print(json.dumps({"frames": len(invokes), **_invoke_timeline(invokes)}), flush=True)


def _invoke_timeline(invokes: list[tuple[float, float]]) -> dict:
    """When a process's invokes ran, in ms after the parent spawned it (``time.perf_counter`` is CLOCK_MONOTONIC,
    one clock for every process; the parent puts its reading at spawn in COMPARE_SPAWNED_AT)."""
    spawned = float(os.environ.get("COMPARE_SPAWNED_AT", "nan"))
    if not invokes or spawned != spawned:  # no invoke, or not started by the comparison
        return {}
    return {"first_invoke_ms": (invokes[0][0] - spawned) * 1000, "last_invoke_end_ms": (invokes[-1][1] - spawned) * 1000,
            "invoke_sum_ms": sum(end - start for start, end in invokes) * 1000}


def _appliance_timeline_worker(argv: list[str]) -> None:
    """``pose-appliance run ARGV`` as the console script runs it, with each invoke of the model noted; the invoke
    times are printed as the last line of stdout when the command ends. What differs from the real command: this
    script's own imports come first (as they do for the floor, which runs in it too), then the appliance's model
    runtime module, to wrap its invoke."""
    import atexit

    from pose_appliance.cli import program
    from pose_appliance.inference.runtime import LoadedModel

    invokes: list[tuple[float, float]] = []
    invoke = LoadedModel.invoke

    def timed_invoke(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return invoke(self, *args, **kwargs)
        finally:
            invokes.append((started, time.perf_counter()))

    LoadedModel.invoke = timed_invoke  # type: ignore[method-assign]
    atexit.register(lambda: print(json.dumps({"frames": len(invokes), **_invoke_timeline(invokes)}), flush=True))
    sys.argv = ["pose-appliance", *argv]
    program()


# ------------------------------------------------------------------------------------------------- shared
def _decode(video: str, count: int) -> list:
    import cv2

    capture = cv2.VideoCapture(video)
    frames: list = []
    while len(frames) < count:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(bgr)
    capture.release()
    if len(frames) < 2:
        raise SystemExit(f"{video}: fewer than 2 frames decoded")
    return frames


def _forwards_backwards(frames: list, index: int):
    """Frame ``index`` of the frames played forwards then backwards, endlessly (the motion stays continuous)."""
    period = 2 * len(frames) - 2
    k = index % period
    return frames[k if k < len(frames) else period - k]


def _bare_invoke_fps(interpreter, count: int) -> float:
    """``invoke()`` alone on whatever the input tensor holds, after a short warm-up."""
    invoke = interpreter.invoke
    for _ in range(max(5, count // 10)):
        invoke()
    started = time.perf_counter()
    for _ in range(count):
        invoke()
    return count / (time.perf_counter() - started)


def _ratios(bare: list[float], loops: list[float]) -> list[dict]:
    """Loop block i against the mean of the bare rates measured just before and just after it."""
    out = []
    for i, loop in enumerate(loops):
        reference = (bare[i] + bare[i + 1]) / 2
        out.append({"loop_fps": round(loop, 1), "bare_fps": round(reference, 1), "ratio": round(loop / reference, 3)})
    return out


def _spread(values: list[float], digits: int = 2) -> dict:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values)}


def _fmt(spread: dict, digits: int = 2) -> str:
    return f"{spread['median']:.{digits}f} ({spread['min']:.{digits}f}-{spread['max']:.{digits}f})"


# ---------------------------------------------------------------------------------------------- the runner
class Comparison:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.scratch = Path(tempfile.mkdtemp(prefix="compare-tf-sample-"))
        self.sample_dir = _sample_dir(Path(args.checkout), self.scratch)
        self.python = sys.executable
        self.appliance = str(Path(sys.executable).with_name("pose-appliance"))
        self.models_dir, self.model, self.classifier, self.labels = _model_files(args.models_dir)
        self.video = str(Path(args.video).resolve())
        (self.scratch / "movenet_lightning.tflite").symlink_to(self.model)
        self.sample_path = [str(self.sample_dir)]
        self.shimmed = _needs_tflite_runtime_shim(self.sample_dir)
        if self.shimmed:
            shim = self.scratch / "shim" / "tflite_runtime"
            shim.mkdir(parents=True)
            (shim / "__init__.py").write_text("")
            (shim / "interpreter.py").write_text(TFLITE_RUNTIME_SHIM)
            self.sample_path.append(str(shim.parent))

    # -- whole process
    def sample_process(self) -> dict:
        job = {"frames": self.args.frames, "video": self.video, "classifier": self.classifier, "labels": self.labels}
        return self._timed([self.python, __file__, "--sample-worker", "process", json.dumps(job)], sample=True)

    def appliance_process(self) -> dict:
        return self._timed([self.appliance, *self._appliance_run()], sample=False)

    def appliance_timeline(self) -> dict:
        result = self._timed([self.python, __file__, "--appliance-timeline-worker", *self._appliance_run()],
                             sample=False)
        return dict(result, **_reported(result))

    def floor_timeline(self) -> dict:
        result = self.floor_process()
        return dict(result, **_reported(result))

    def _appliance_run(self) -> list[str]:
        return ["run", "--source", self.video, "--display", "null", "--frames", str(self.args.frames),
                "--models-dir", self.models_dir, "--log-level", "warning"]

    def floor_process(self) -> dict:
        job = {"frames": self.args.frames, "video": self.video, "model": self.model}
        # What the appliance's command line sets for itself before numpy loads (pose_appliance/cli.py).
        return self._timed([self.python, __file__, "--floor-worker", json.dumps(job)], sample=False,
                           extra_env={"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")})

    def _timed(self, command: list[str], *, sample: bool, extra_env: dict[str, str] | None = None) -> dict:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # both sides run from bytecode caches, as when installed
        env.update(extra_env or {})
        if sample:
            env["PYTHONPATH"] = os.pathsep.join(self.sample_path)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:  # files: a full pipe cannot block
            started = time.perf_counter()
            env["COMPARE_SPAWNED_AT"] = repr(started)
            process = subprocess.Popen(command, cwd=self.scratch if sample else None, env=env, stdout=out,
                                       stderr=err)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(), err.read().decode()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command[:3])} ... failed ({process.returncode}):\n{stderr[-2000:]}")
        return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
                "stdout": stdout}

    # -- in one process
    def sample_inprocess(self) -> dict:
        job = dict(self._inprocess_job(), classifier=self.classifier, labels=self.labels)
        result = self._timed([self.python, __file__, "--sample-worker", "inprocess", json.dumps(job)], sample=True)
        return _reported(result)

    def appliance_inprocess(self, display: str) -> dict:
        job = dict(self._inprocess_job(), models_dir=self.models_dir, display=display)
        result = self._timed([self.python, __file__, "--appliance-worker", json.dumps(job)], sample=False)
        return _reported(result)

    def _inprocess_job(self) -> dict:
        return {"video": self.video, "decoded": self.args.frames, "warmup": 30, "block": self.args.block,
                "blocks": self.args.blocks, "invokes": self.args.invokes}


def _reported(result: dict) -> dict:
    """What a worker printed as its last line of stdout: one JSON object."""
    return json.loads(result["stdout"].strip().splitlines()[-1])


def _sample_dir(checkout: Path, scratch: Path) -> Path:
    if (checkout / "HEAD").is_file() and (checkout / "objects").is_dir():  # a bare clone: export the sample only
        export = scratch / "tensorflow-examples"
        try:
            export_head(checkout, [str(SAMPLE_SUBDIR)], export)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        checkout = export
    for candidate in (checkout / SAMPLE_SUBDIR, checkout):
        if (candidate / "pose_estimation.py").is_file() and (candidate / "ml" / "movenet.py").is_file():
            return candidate.resolve()
    raise SystemExit(f"{checkout}: not a checkout of tensorflow/examples (no {SAMPLE_SUBDIR}/pose_estimation.py); "
                     "clone https://github.com/tensorflow/examples and give its path")


def _needs_tflite_runtime_shim(sample_dir: Path) -> bool:
    source = (sample_dir / "ml" / "movenet.py").read_text(encoding="utf-8")
    return "ai_edge_litert" not in source and "tflite_runtime" in source


def _model_files(models_dir: str | None) -> tuple[str, str, str, str]:
    from pose_appliance.modelstore import ModelError, model_file, resolve_models_dir

    directory = resolve_models_dir(models_dir or "")
    try:
        model = model_file(POSE_MODEL, directory)
        classifier = model_file(CLASSIFIER, directory)
    except ModelError as exc:
        raise SystemExit(str(exc)) from None
    labels = classifier.with_name("yoga_labels.txt")
    if not labels.is_file():
        raise SystemExit(f"{labels} is missing: run `pose-appliance models fetch --models-dir {directory}`")
    return str(directory), str(model.resolve()), str(classifier.resolve()), str(labels.resolve())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--sample-worker"]:
        _sample_worker(argv[1], json.loads(argv[2]))
        return 0
    if argv[:1] == ["--floor-worker"]:
        _floor_worker(json.loads(argv[1]))
        return 0
    if argv[:1] == ["--appliance-worker"]:
        _appliance_worker(json.loads(argv[1]))
        return 0
    if argv[:1] == ["--appliance-timeline-worker"]:
        _appliance_timeline_worker(argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="scripts/compare-tf-sample", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkout", help="a checkout of github.com/tensorflow/examples, its "
                                         f"{SAMPLE_SUBDIR} folder, or a bare clone (the sample is exported "
                                         "to /tmp with git archive)")
    parser.add_argument("--video", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" /
                                               "tfjs_pose_detection" / "pose_1.mp4"),
                        help="the video both sides read (default ../shared/data/tfjs_pose_detection/pose_1.mp4)")
    parser.add_argument("--models-dir", help="where `pose-appliance models fetch` put the models (default: the "
                                             "appliance's own rule)")
    parser.add_argument("--frames", type=int, default=120, help="frames per whole-process run (default 120)")
    parser.add_argument("--rounds", type=int, default=7, help="whole-process runs of each side (default 7)")
    parser.add_argument("--inprocess-rounds", type=int, default=3, help="in-process workers of each side "
                                                                       "(default 3)")
    parser.add_argument("--blocks", type=int, default=4, help="loop blocks per in-process worker (default 4)")
    parser.add_argument("--block", type=int, default=300, help="frames per loop block (default 300)")
    parser.add_argument("--invokes", type=int, default=300, help="bare invokes per measurement (default 300)")
    parser.add_argument("--timeline-rounds", type=int, default=5,
                        help="runs of the appliance and the floor timed inside the process: when the first invoke "
                             "starts, the last ends, and what the invokes add up to (default 5; 0: none)")
    parser.add_argument("--json", help="also write every measurement to this file")
    args = parser.parse_args(argv)
    return run(args)


def run(args: argparse.Namespace) -> int:
    comparison = Comparison(args)
    try:
        return _compare(args, comparison)
    finally:
        shutil.rmtree(comparison.scratch, ignore_errors=True)


def _compare(args: argparse.Namespace, comparison: Comparison) -> int:
    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    say(f"sample: {comparison.sample_dir}" + (" (tflite_runtime mapped to ai_edge_litert)" if comparison.shimmed
                                              else ""))
    say(f"model {comparison.model}, video {comparison.video}, {args.frames} frames, {os.cpu_count()} cores")
    say("  warm-up: one untimed run of each side, so both start from bytecode caches")
    runners = {"sample": comparison.sample_process, "appliance": comparison.appliance_process,
               "floor": comparison.floor_process}
    for runner in runners.values():
        runner()
    processes: dict[str, list[dict]] = {side: [] for side in runners}
    for i in range(args.rounds):
        for side in (tuple(runners) if i % 2 == 0 else tuple(runners)[::-1]):
            result = runners[side]()
            processes[side].append(result)
            say(f"  whole process {i + 1}/{args.rounds} {side:<9}: {result['wall_s']:.3f} s wall, "
                f"{result['cpu_s']:.3f} s CPU")
    inprocess: dict[str, list[dict]] = {"sample": [], "appliance": [], "appliance_fbdev": []}
    for i in range(args.inprocess_rounds):
        sides = ("sample", "appliance", "appliance_fbdev")
        for side in (sides if i % 2 == 0 else sides[::-1]):
            if side == "sample":
                result = comparison.sample_inprocess()
            else:
                result = comparison.appliance_inprocess("fbdev" if side.endswith("fbdev") else "null")
            inprocess[side].append(result)
            say(f"  in process {i + 1}/{args.inprocess_rounds} {side:<15}: loop / bare invoke "
                + ", ".join(f"{b['ratio']:.2f}" for b in result["blocks"]))
    timelines: dict[str, list[dict]] = {"floor": [], "appliance": []}
    for i in range(args.timeline_rounds):
        for side in (("floor", "appliance") if i % 2 == 0 else ("appliance", "floor")):
            result = comparison.floor_timeline() if side == "floor" else comparison.appliance_timeline()
            timelines[side].append(result)
            say(f"  timeline {i + 1}/{args.timeline_rounds} {side:<9}: first invoke {result['first_invoke_ms']:.0f} "
                f"ms, last ends {result['last_invoke_end_ms']:.0f} ms, invokes {result['invoke_sum_ms']:.0f} ms, "
                f"exit {result['wall_s'] * 1000:.0f} ms")
    report = summarize(args, comparison, processes, inprocess, timelines)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nwritten to {args.json}")
    return 0


def summarize(args, comparison: Comparison, processes: dict, inprocess: dict, timelines: dict) -> dict:
    pairs = list(zip(processes["appliance"], processes["sample"]))
    report: dict = {"frames": args.frames, "rounds": args.rounds, "cores": os.cpu_count(),
                    "video": comparison.video, "model": comparison.model, "sample_dir": str(comparison.sample_dir),
                    "tflite_runtime_shim": comparison.shimmed, "load_average": list(os.getloadavg())}
    for side, runs in processes.items():
        for run_ in runs:
            run_.pop("stdout", None)
        report[f"{side}_process"] = {key: _spread([r[key] for r in runs], 3)
                                     for key in ("wall_s", "cpu_s", "peak_rss_mb")}
        report[f"{side}_process"]["runs"] = runs
    report["wall_ratio"] = _spread([a["wall_s"] / s["wall_s"] for a, s in pairs])
    report["cpu_ratio"] = _spread([a["cpu_s"] / s["cpu_s"] for a, s in pairs])
    floor_pairs = list(zip(processes["floor"], processes["sample"]))
    report["floor_wall_ratio"] = _spread([f["wall_s"] / s["wall_s"] for f, s in floor_pairs])
    report["floor_cpu_ratio"] = _spread([f["cpu_s"] / s["cpu_s"] for f, s in floor_pairs])
    for side, workers in inprocess.items():
        blocks = [b for w in workers for b in w["blocks"]]
        if not blocks:
            continue
        report[f"{side}_inprocess"] = {"threads": workers[0]["threads"] if workers else None,
                                       "ratio": _spread([b["ratio"] for b in blocks], 3),
                                       "loop_fps": _spread([b["loop_fps"] for b in blocks], 1),
                                       "bare_fps": _spread([b["bare_fps"] for b in blocks], 1), "blocks": blocks}
    for side, runs in timelines.items():
        if runs:
            report[f"{side}_timeline"] = {
                key: _spread([r[key] for r in runs], 1)
                for key in ("first_invoke_ms", "last_invoke_end_ms", "invoke_sum_ms")}
            report[f"{side}_timeline"]["exit_ms"] = _spread([r["wall_s"] * 1000 for r in runs], 1)
            report[f"{side}_timeline"]["invoke_ms"] = _spread([r["invoke_sum_ms"] / r["frames"] for r in runs], 2)
    report["targets"] = TARGETS
    return report


def format_report(r: dict) -> str:
    sample, appliance = r["sample_process"], r["appliance_process"]
    header = (f"Whole process, {r['frames']} frames, headless, {r['rounds']} runs of each side interleaved; "
              "median (min-max):")
    sample_row = (f"  {'TF sample run() (4 threads)':<34}{_fmt(sample['wall_s'], 3):<22}"
                  f"{_fmt(sample['cpu_s'], 3):<22}{_fmt(sample['peak_rss_mb'], 0)}")
    appliance_row = (f"  {'pose-appliance run --display null':<34}{_fmt(appliance['wall_s'], 3):<22}"
                     f"{_fmt(appliance['cpu_s'], 3):<22}{_fmt(appliance['peak_rss_mb'], 0)}")
    floor = r["floor_process"]
    floor_row = (f"  {'floor (decode, resize, invoke)':<34}{_fmt(floor['wall_s'], 3):<22}"
                 f"{_fmt(floor['cpu_s'], 3):<22}{_fmt(floor['peak_rss_mb'], 0)}")
    lines = [header, f"  {'':<34}{'wall s':<22}{'CPU s':<22}peak RSS MB", sample_row, appliance_row, floor_row,
             f"  {'appliance / sample, per pair':<34}{_fmt(r['wall_ratio']):<22}{_fmt(r['cpu_ratio']):<22}",
             f"  {'floor / sample, per pair':<34}{_fmt(r['floor_wall_ratio']):<22}"
             f"{_fmt(r['floor_cpu_ratio']):<22}",
             "  (the floor starts Python, imports, loads the model, then only decodes, resizes and invokes: the "
             "appliance, same model and threads, cannot end before it)", "",
             ("In one process, loop fps / bare invoke fps of the same interpreter, blocks interleaved; median "
              "(min-max):")]
    for side, name in (("sample", "TF sample run() (draws, shows nothing)"),
                       ("appliance", "appliance Pipeline, null display (draws nothing)"),
                       ("appliance_fbdev", "appliance Pipeline, fbdev display (draws, writes a framebuffer)")):
        s = r.get(f"{side}_inprocess")
        if s and s["blocks"]:
            lines.append(f"  {name + ', ' + str(s['threads']) + ' threads':<76}{_fmt(s['ratio']):<20}"
                         f"loop {_fmt(s['loop_fps'], 0)} fps, bare {_fmt(s['bare_fps'], 0)} fps")
    if r.get("floor_timeline") and r.get("appliance_timeline"):
        lines += ["", "Timed inside the process (the floor, and the appliance with its invokes noted), ms after spawn; "
                      "median (min-max):",
                  f"  {'':<12}{'first invoke':<20}{'last invoke ends':<20}{'sum of invokes':<20}{'per invoke':<20}"
                  "exit"]
        for side in ("floor", "appliance"):
            s = r[f"{side}_timeline"]
            lines.append(f"  {side:<12}{_fmt(s['first_invoke_ms'], 0):<20}{_fmt(s['last_invoke_end_ms'], 0):<20}"
                         f"{_fmt(s['invoke_sum_ms'], 0):<20}{_fmt(s['invoke_ms'], 2):<20}{_fmt(s['exit_ms'], 0)}")
    t = r["targets"]
    checks = [("whole-process wall time / sample's", r["wall_ratio"]["median"], "<=", t["wall"]),
              ("whole-process CPU time / sample's", r["cpu_ratio"]["median"], "<=", t["cpu"])]
    if r.get("appliance_inprocess", {}).get("blocks"):
        checks.append(("in-process throughput / bare invoke", r["appliance_inprocess"]["ratio"]["median"], ">=",
                       t["inprocess"]))
    lines += ["", "Targets (medians):"]
    for what, value, op, limit in checks:
        ok = value <= limit if op == "<=" else value >= limit
        lines.append(f"  {'ok  ' if ok else 'MISS'} {what}: {value:.2f} (target {op} {limit})")
    lines.append(f"\n{r['cores']} cores, load average at the end {r['load_average']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
