"""What a bench run measures: the models fetched, delegates present, thread counts and frame sizes, checked."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pose_appliance.errors import UserError

DEFAULT_SIZES = "640x480,camera:640x480,camera:1280x720"
DEFAULT_DISPLAYS = "null,fbdev"


@dataclass(frozen=True)
class BenchOptions:
    """The bench command's options (see ``pose-appliance bench --help``)."""

    models_dir: str = ""
    models: str = ""
    threads: str = ""
    delegates: str = ""
    sizes: str = DEFAULT_SIZES
    displays: str = DEFAULT_DISPLAYS
    frames: int = 600
    rounds: int = 5
    paced_frames: int = 300
    fps: float = 30.0
    invokes: int = 300
    startup_seconds: float = 3.0
    video: str = ""


def make_plan(options: BenchOptions) -> dict:
    """Settings and the (model, delegate, threads) configurations to measure; UserError naming the option."""
    from pose_appliance import modelstore
    from pose_appliance.inference import find_edgetpu

    models_dir = modelstore.resolve_models_dir(options.models_dir or "")
    manifest = modelstore.load_manifest()
    pose_models = modelstore.pose_models(manifest)
    if options.models:
        wanted = _split(options.models)
        unknown = [m for m in wanted if m not in {e.name for e in pose_models}]
        if unknown:
            raise UserError(f"--models: {unknown[0]!r} is not a pose model of the manifest "
                            f"(choose from: {', '.join(e.name for e in pose_models)})")
        pose_models = [e for e in pose_models if e.name in wanted]
    models = [e for e in pose_models if (models_dir / e.file).is_file()]
    if not models:
        raise UserError(f"no pose model in {models_dir} (fetch one: pose-appliance models fetch --models-dir "
                        f"{models_dir})")
    cores = os.cpu_count() or 1
    try:
        threads = [int(t) for t in _split(options.threads)] or list(range(1, cores + 1))
    except ValueError:
        raise UserError(f"--threads: expected numbers like 1,2, got {options.threads!r}") from None
    device = find_edgetpu()
    delegates = _split(options.delegates) or ["cpu", "edgetpu"]
    if set(delegates) - {"cpu", "edgetpu"}:
        raise UserError(f"--delegates: choose cpu and/or edgetpu, got {options.delegates!r}")
    sizes = [parse_size(s) for s in _split(options.sizes)]
    displays = _split(options.displays)
    if not displays or set(displays) - {"null", "fbdev"}:
        raise UserError(f"--displays: choose null and/or fbdev, got {options.displays!r}")
    video = Path(options.video) if options.video else models_dir / manifest["demo_video"].file
    if not video.is_file():
        raise UserError(f"{video}: video not found (give --video FILE, or fetch the demo video: pose-appliance "
                        f"models fetch demo_video --models-dir {models_dir})")
    for name, value in (("--frames", options.frames), ("--paced-frames", options.paced_frames),
                        ("--invokes", options.invokes)):
        if value < 5:
            raise UserError(f"{name}: at least 5, got {value}")
    configs = []
    for entry in models:
        for delegate in delegates:
            if delegate == "edgetpu" and (device is None or not entry.edgetpu
                                          or not (models_dir / manifest[entry.edgetpu].file).is_file()):
                continue
            for count in threads:
                configs.append((entry.name, delegate, count))
    settings = {"models_dir": str(models_dir), "video": str(video), "sizes": sizes, "displays": displays,
                "frames": options.frames, "rounds": max(1, options.rounds), "paced_frames": options.paced_frames,
                "fps": options.fps, "invokes": options.invokes, "startup_seconds": options.startup_seconds,
                "edgetpu_device": device}
    return {"settings": settings, "configs": configs}


def parse_size(text: str) -> dict:
    camera, _, dims = text.strip().rpartition(":")
    try:
        width, height = (int(v) for v in dims.lower().split("x"))
    except ValueError:
        raise UserError(f"--sizes: {text!r} is not WxH or camera:WxH") from None
    if camera not in ("", "camera") or width < 16 or height < 16 or width % 2 or height % 2:
        raise UserError(f"--sizes: {text!r} is not WxH or camera:WxH (even sizes of at least 16)")
    return {"name": text.strip(), "width": width, "height": height, "camera": camera == "camera"}


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]
