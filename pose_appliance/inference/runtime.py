"""Loading a .tflite model into LiteRT (or tflite-runtime), on the CPU or a Coral Edge TPU.

Every Edge TPU problem (no device, libedgetpu missing, libedgetpu not matching the runtime, the device unplugged
while running) ends in a logged, specific reason and the CPU model; only a missing or broken CPU model file is an
error (``ModelLoadError``). The Edge TPU is reached with the runtime's own
``load_delegate("libedgetpu.so.1", {"device": ...})``, the call pycoral makes, so pycoral is never needed.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pose_appliance.native_stderr import filtered_stderr

log = logging.getLogger(__name__)

EDGETPU_LIBRARY = "libedgetpu.so.1"
# Coral USB Accelerator (vendor, product) before (Global Unichip) and after (Google) its firmware is loaded.
EDGETPU_USB_IDS: dict[tuple[str, str], str] = {
    ("1a6e", "089a"): "waiting for its firmware (loaded on first use)",
    ("18d1", "9302"): "running",
}
RUNTIME_MODULES: tuple[tuple[str, str], ...] = (
    ("ai_edge_litert", "ai_edge_litert.interpreter"),
    ("tflite_runtime", "tflite_runtime.interpreter"),
)
MAX_DEFAULT_THREADS = 4
# Written by LiteRT's C++ code straight to the process's stderr when an interpreter first applies XNNPACK. Neither
# runtime has a switch for it (no environment variable, no exported log-severity call in LiteRT 2.3), so it is
# filtered out of fd 2 while interpreters are built (quiet_runtime_banner).
RUNTIME_BANNERS: tuple[bytes, ...] = (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)
_banner_seen = False

InterpreterFactory = Callable[..., Any]


class ModelLoadError(RuntimeError):
    """A model file that is missing or cannot be read as a TFLite model; the message names the file and the fix."""


@dataclass
class LoadedModel:
    """An allocated interpreter and where it runs.

    ``delegate`` is what is live now ("cpu" or "edgetpu"); ``fallback_reason`` says why the Edge TPU that was
    asked for is not used (None when nothing failed). ``invoke`` falls back to the CPU model by itself when the
    Edge TPU fails mid-run; callers then find a new ``interpreter`` and write their input again.
    """

    interpreter: Any
    path: Path
    delegate: str
    fallback_reason: str | None
    runtime: str
    _load_cpu: Callable[[], Any] | None = field(default=None, repr=False)

    def invoke(self, write_input: Callable[[Any], None]) -> None:
        """``write_input(interpreter)`` fills the input tensors; then the model runs once."""
        write_input(self.interpreter)
        try:
            self.interpreter.invoke()
        except Exception as exc:
            if self.delegate != "edgetpu" or self._load_cpu is None:
                raise
            self.fall_back_to_cpu(f"Edge TPU failed while running ({_first_line(exc)}); is it still plugged in?")
            write_input(self.interpreter)
            self.interpreter.invoke()

    def fall_back_to_cpu(self, reason: str) -> None:
        if self._load_cpu is None:
            raise RuntimeError(f"Edge TPU failed and there is no CPU model to fall back to: {reason}")
        log.warning("Edge TPU disabled, running on the CPU: %s", reason)
        self.interpreter = self._load_cpu()
        self.delegate, self.fallback_reason = "cpu", reason


def default_threads() -> int:
    """One thread per core, at most 4: more threads than cores makes XNNPACK slower, not faster."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_THREADS))


def import_runtime() -> tuple[str, Any]:
    """(name, interpreter module) of the first TFLite runtime installed: LiteRT, then tflite-runtime."""
    for name, module_name in RUNTIME_MODULES:
        try:
            return name, importlib.import_module(module_name)
        except ImportError:
            continue
    raise ModelLoadError("no TFLite runtime installed: pip install ai-edge-litert (or tflite-runtime)")


def find_edgetpu(sysfs_root: str | os.PathLike = "/sys", dev_root: str | os.PathLike = "/dev") -> str | None:
    """Describe the first Coral Edge TPU present (USB ids under sysfs, or a PCIe /dev/apex_N), or None."""
    for device in sorted(Path(sysfs_root, "bus/usb/devices").glob("*")):
        ids = (_read_text(device / "idVendor"), _read_text(device / "idProduct"))
        if ids in EDGETPU_USB_IDS:
            return f"usb {ids[0]}:{ids[1]} at {device.name}"
    apex = sorted(Path(dev_root).glob("apex_*"))
    return f"pci {apex[0]}" if apex else None


def load_model(path: str | os.PathLike, *, threads: int = 0, delegate: str = "cpu", edgetpu_device: str = "",
               load_delegate: Callable[..., Any] | None = None, edgetpu_path: str | os.PathLike | None = None,
               interpreter_factory: InterpreterFactory | None = None, name: str = "",
               sysfs_root: str | os.PathLike = "/sys", dev_root: str | os.PathLike = "/dev") -> LoadedModel:
    """Load ``path`` on the CPU, or ``edgetpu_path`` on a Coral Edge TPU.

    delegate: "cpu"; "edgetpu" (try it, fall back to the CPU with a reason); "auto" (Edge TPU only when a device
    is present and ``edgetpu_path`` exists). ``threads`` 0 = ``default_threads()``. ``load_delegate`` and
    ``interpreter_factory(model_path=, experimental_delegates=, num_threads=)`` default to the runtime's own;
    tests inject fakes. ``name`` is the manifest name used in the fix hint of errors.
    """
    if delegate not in ("cpu", "edgetpu", "auto"):
        raise ValueError(f"delegate must be 'cpu', 'edgetpu' or 'auto', not {delegate!r}")
    path = Path(path)
    runtime, module = import_runtime()
    factory = interpreter_factory or module.Interpreter
    num_threads = threads or default_threads()
    if threads > (os.cpu_count() or 1):
        log.warning("model.threads = %d is more than the %s cores; expect it to run slower", threads,
                    os.cpu_count())
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found; {_fetch_hint(name, path)}")

    def load_cpu() -> Any:
        try:
            with quiet_runtime_banner():
                interpreter = factory(model_path=str(path), num_threads=num_threads)
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{path}: not a usable TFLite model ({_first_line(exc)}); "
                                 f"{_fetch_hint(name, path)}") from None
        return interpreter

    reason: str | None = None
    if delegate != "cpu":
        device = find_edgetpu(sysfs_root, dev_root)
        edgetpu_file = Path(edgetpu_path) if edgetpu_path else None
        if delegate == "auto" and device is None:
            log.info("no Edge TPU found; running %s on the CPU", path.name)
        elif edgetpu_file is None or not edgetpu_file.is_file():
            reason = (f"the Edge TPU build {edgetpu_file.name} is not in {edgetpu_file.parent} (fetch it with "
                      "`pose-appliance models fetch`, see `pose-appliance models list`)" if edgetpu_file
                      else f"{name or path.name} has no Edge TPU build")
        else:
            loader = load_delegate or module.load_delegate
            interpreter, reason = _load_edgetpu(edgetpu_file, factory, loader, edgetpu_device, num_threads,
                                                device)
            if interpreter is not None:
                log.info("%s runs on the Edge TPU (%s)", edgetpu_file.name, device or edgetpu_device or "found")
                return LoadedModel(interpreter, edgetpu_file, "edgetpu", None, runtime, load_cpu)
        if reason:
            log.warning("Edge TPU not used, running on the CPU: %s", reason)
    return LoadedModel(load_cpu(), path, "cpu", reason, runtime, load_cpu)


@contextlib.contextmanager
def quiet_runtime_banner() -> Iterator[None]:
    """Interpreters built in this block do not print the runtime's INFO banner; every other line on stderr
    passes. The banner comes once per process, so once it was seen this does nothing."""
    global _banner_seen
    if _banner_seen:
        yield
        return
    with filtered_stderr(lambda line: line in RUNTIME_BANNERS) as dropped:
        yield
    _banner_seen = bool(dropped)


def _load_edgetpu(model: Path, factory: InterpreterFactory, loader: Callable[..., Any], device_option: str,
                  num_threads: int, device: str | None) -> tuple[Any, str | None]:
    options = {"device": device_option} if device_option else {}
    try:
        edgetpu = loader(EDGETPU_LIBRARY, options)
    except Exception as exc:
        if device is None:
            return None, (f"no Edge TPU device found (USB {', '.join(':'.join(i) for i in EDGETPU_USB_IDS)} "
                          f"or /dev/apex_N) and {EDGETPU_LIBRARY} did not load: {_first_line(exc)}")
        return None, (f"{EDGETPU_LIBRARY} could not open the Edge TPU {device_option or device} "
                      f"({_first_line(exc)}); install libedgetpu1-std and check the device option")
    try:
        with quiet_runtime_banner():
            interpreter = factory(model_path=str(model), experimental_delegates=[edgetpu], num_threads=num_threads)
            interpreter.allocate_tensors()
    except Exception as exc:
        return None, (f"{model.name} did not start on the Edge TPU ({_first_line(exc)}); libedgetpu probably "
                      "does not match the TFLite runtime version")
    return interpreter, None


def _fetch_hint(name: str, path: Path) -> str:
    if name:
        return f"fetch it again with `pose-appliance models fetch {name}`"
    return f"replace {path.name} with a good copy (`pose-appliance models fetch NAME`)"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip().lower()
    except OSError:
        return ""
