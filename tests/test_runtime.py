"""load_model: every Edge TPU branch with a fake delegate loader, missing/corrupt files, threads, runtime order."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from pose_appliance.config import ModelConfig
from pose_appliance.inference import ModelLoadError, MoveNetEstimator, find_edgetpu, load_model
from pose_appliance.inference import runtime as runtime_module


class FakeDelegate:
    pass


class Loader:
    """Stands in for load_delegate: records calls, returns a delegate or raises."""

    def __init__(self, error: Exception | None = None):
        self.error, self.calls = error, []

    def __call__(self, library, options=None):
        self.calls.append((library, options))
        if self.error:
            raise self.error
        return FakeDelegate()


class EdgeTpuInterpreter:
    """An 'Edge TPU' interpreter: the real CPU Lightning model behind it; can fail like a mismatched or
    unplugged device."""

    def __init__(self, cpu_model, *, fail_allocate=None):
        from ai_edge_litert.interpreter import Interpreter
        self._inner = Interpreter(model_path=str(cpu_model), num_threads=1)
        self.fail_allocate, self.unplugged, self.invokes = fail_allocate, False, 0

    def allocate_tensors(self):
        if self.fail_allocate:
            raise self.fail_allocate
        self._inner.allocate_tensors()

    def invoke(self):
        if self.unplugged:
            raise RuntimeError("Failed to invoke: USB transfer error 2 [LibUsbDataOutCallback]")
        self.invokes += 1
        self._inner.invoke()

    def __getattr__(self, name):
        return getattr(self._inner, name)


class Factory:
    """Interpreter factory: the real runtime for CPU models, EdgeTpuInterpreter when a delegate is given."""

    def __init__(self, cpu_model, *, fail_create=None, fail_allocate=None):
        self.cpu_model, self.fail_create, self.fail_allocate = cpu_model, fail_create, fail_allocate
        self.calls, self.edgetpu = [], None

    def __call__(self, model_path, experimental_delegates=None, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter
        self.calls.append((model_path, experimental_delegates, num_threads))
        if not experimental_delegates:
            return Interpreter(model_path=model_path, num_threads=num_threads)
        if self.fail_create:
            raise self.fail_create
        self.edgetpu = EdgeTpuInterpreter(self.cpu_model, fail_allocate=self.fail_allocate)
        return self.edgetpu


@pytest.fixture
def edgetpu_model(shared):
    return shared / "models/coral/movenet_single_pose_lightning_ptq_edgetpu.tflite"


@pytest.fixture
def no_device(tmp_path):
    (tmp_path / "sys/bus/usb/devices/1-1").mkdir(parents=True)
    (tmp_path / "sys/bus/usb/devices/1-1/idVendor").write_text("046d\n")
    (tmp_path / "sys/bus/usb/devices/1-1/idProduct").write_text("c52b\n")
    (tmp_path / "dev").mkdir()
    return {"sysfs_root": tmp_path / "sys", "dev_root": tmp_path / "dev"}


def usb_device(roots, vendor="18d1", product="9302"):
    device = roots["sysfs_root"] / "bus/usb/devices/2-1"
    device.mkdir()
    (device / "idVendor").write_text(vendor + "\n")
    (device / "idProduct").write_text(product + "\n")
    return roots


def test_cpu_is_plain_and_never_touches_the_delegate(lightning_int8, no_device):
    loader = Loader()
    model = load_model(lightning_int8, delegate="cpu", load_delegate=loader, threads=1, **no_device)
    assert (model.delegate, model.fallback_reason, model.runtime) == ("cpu", None, "ai_edge_litert")
    assert model.path == lightning_int8 and loader.calls == []
    assert model.interpreter.get_input_details()[0]["shape"].tolist() == [1, 192, 192, 3]


def test_default_threads_are_cores_capped_at_four(lightning_int8, monkeypatch):
    factory = Factory(lightning_int8)
    for cores, expected in ((2, 2), (8, 4), (1, 1)):
        monkeypatch.setattr(runtime_module.os, "cpu_count", lambda cores=cores: cores)
        load_model(lightning_int8, interpreter_factory=factory)
        assert factory.calls[-1][2] == expected
    load_model(lightning_int8, threads=3, interpreter_factory=factory)
    assert factory.calls[-1][2] == 3


def test_missing_model_names_file_and_fetch_command(tmp_path):
    missing = tmp_path / "movenet_lightning_int8.tflite"
    with pytest.raises(ModelLoadError) as err:
        load_model(missing, name="movenet_lightning_int8")
    message = str(err.value)
    assert str(missing) in message and "pose-appliance models fetch movenet_lightning_int8" in message
    assert "\n" not in message


def test_corrupt_model_names_file_and_fix(tmp_path):
    corrupt = tmp_path / "movenet_lightning_int8.tflite"
    corrupt.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(ModelLoadError) as err:
        load_model(corrupt, name="movenet_lightning_int8")
    message = str(err.value)
    assert str(corrupt) in message and "not a usable TFLite model" in message
    assert "models fetch movenet_lightning_int8" in message and "\n" not in message


def test_truncated_model_is_a_load_error(tmp_path, lightning_int8):
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(lightning_int8.read_bytes()[:100_000])
    with pytest.raises(ModelLoadError, match=r"cut.tflite"):
        load_model(truncated)


def test_edgetpu_without_device_or_library_falls_back(lightning_int8, edgetpu_model, no_device, caplog):
    loader = Loader(ValueError("Failed to load delegate from libedgetpu.so.1\n"))
    model = load_model(lightning_int8, delegate="edgetpu", load_delegate=loader, edgetpu_path=edgetpu_model,
                       interpreter_factory=Factory(lightning_int8), **no_device)
    assert model.delegate == "cpu" and model.path == lightning_int8
    assert "no Edge TPU device found" in model.fallback_reason
    assert "Failed to load delegate" in model.fallback_reason
    assert loader.calls == [("libedgetpu.so.1", {})]
    assert "Edge TPU not used" in caplog.text


def test_edgetpu_device_present_but_library_fails(lightning_int8, edgetpu_model, no_device):
    roots = usb_device(no_device)
    loader = Loader(OSError("libedgetpu.so.1: cannot open shared object file"))
    model = load_model(lightning_int8, delegate="edgetpu", edgetpu_device="usb:0", load_delegate=loader,
                       edgetpu_path=edgetpu_model, **roots)
    assert model.delegate == "cpu"
    assert "could not open the Edge TPU usb:0" in model.fallback_reason
    assert "libedgetpu1-std" in model.fallback_reason
    assert loader.calls == [("libedgetpu.so.1", {"device": "usb:0"})]


@pytest.mark.parametrize("stage", ["create", "allocate"])
def test_runtime_libedgetpu_mismatch_falls_back(lightning_int8, edgetpu_model, no_device, stage):
    error = RuntimeError("Internal: Unsupported data type in custom op handler: 0")
    factory = Factory(lightning_int8, **{f"fail_{stage}": error})
    model = load_model(lightning_int8, delegate="edgetpu", load_delegate=Loader(), edgetpu_path=edgetpu_model,
                       interpreter_factory=factory, **usb_device(no_device))
    assert model.delegate == "cpu" and model.path == lightning_int8
    assert "does not match the TFLite runtime" in model.fallback_reason
    assert "Unsupported data type" in model.fallback_reason


def test_edgetpu_model_file_missing(lightning_int8, tmp_path, no_device):
    loader = Loader()
    model = load_model(lightning_int8, delegate="edgetpu", load_delegate=loader,
                       edgetpu_path=tmp_path / "movenet_lightning_int8_edgetpu.tflite", **usb_device(no_device))
    assert model.delegate == "cpu" and loader.calls == []
    assert "movenet_lightning_int8_edgetpu.tflite is not in" in model.fallback_reason
    model = load_model(lightning_int8, delegate="edgetpu", load_delegate=loader, name="posenet", **no_device)
    assert model.fallback_reason == "posenet has no Edge TPU build"


def test_auto_without_device_is_cpu_without_complaint(lightning_int8, edgetpu_model, no_device):
    loader = Loader()
    model = load_model(lightning_int8, delegate="auto", load_delegate=loader, edgetpu_path=edgetpu_model,
                       **no_device)
    assert (model.delegate, model.fallback_reason) == ("cpu", None)
    assert loader.calls == []


@pytest.mark.parametrize("device", ["usb-before-firmware", "usb-after-firmware", "pcie"])
def test_auto_with_device_uses_edgetpu(lightning_int8, edgetpu_model, no_device, device):
    if device == "pcie":
        (no_device["dev_root"] / "apex_0").touch()
        roots = no_device
    else:
        roots = usb_device(no_device, *(("1a6e", "089a") if device == "usb-before-firmware" else ("18d1", "9302")))
    factory, loader = Factory(lightning_int8), Loader()
    model = load_model(lightning_int8, delegate="auto", load_delegate=loader, edgetpu_path=edgetpu_model,
                       interpreter_factory=factory, threads=1, **roots)
    assert (model.delegate, model.fallback_reason, model.path) == ("edgetpu", None, edgetpu_model)
    assert factory.calls[-1][0] == str(edgetpu_model) and isinstance(factory.calls[-1][1][0], FakeDelegate)
    assert loader.calls == [("libedgetpu.so.1", {})]


def test_find_edgetpu(no_device):
    assert find_edgetpu(**no_device) is None
    assert "18d1:9302" in find_edgetpu(**usb_device(no_device))


def test_unplugged_mid_run_falls_back_and_keeps_estimating(lightning_int8, edgetpu_model, no_device, shared):
    import cv2
    factory = Factory(lightning_int8)
    model = load_model(lightning_int8, delegate="edgetpu", load_delegate=Loader(), edgetpu_path=edgetpu_model,
                       interpreter_factory=factory, threads=1, **usb_device(no_device))
    estimator = MoveNetEstimator(model, ModelConfig())
    image = cv2.cvtColor(cv2.imread(str(shared / "data/coral_test_data/squat.bmp")), cv2.COLOR_BGR2RGB)
    on_tpu = estimator.estimate(image, timestamp=0.0)
    assert estimator.delegate == "edgetpu" and factory.edgetpu.invokes == 1
    factory.edgetpu.unplugged = True
    on_cpu = estimator.estimate(image, timestamp=1 / 30)
    assert estimator.delegate == "cpu" and model.path == edgetpu_model  # path: the file first loaded
    assert "Edge TPU failed while running" in estimator.fallback_reason
    assert "USB transfer error" in estimator.fallback_reason
    assert on_cpu is not None and on_tpu is not None
    assert np.abs(on_cpu.keypoints[:, :2] - on_tpu.keypoints[:, :2]).max() < 60
    assert estimator.estimate(image, timestamp=2 / 30) is not None and factory.edgetpu.invokes == 1


def test_runtime_import_order(monkeypatch, lightning_int8):
    fake = types.ModuleType("tflite_runtime.interpreter")
    fake.Interpreter = object
    fake.load_delegate = object
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "tflite_runtime", types.ModuleType("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake)
    assert runtime_module.import_runtime() == ("tflite_runtime", fake)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(ModelLoadError, match="pip install ai-edge-litert"):
        load_model(lightning_int8)


@pytest.mark.hardware
def test_real_edgetpu_runs_lightning(lightning_int8, edgetpu_model, shared):
    if find_edgetpu() is None:
        pytest.skip("no Coral Edge TPU attached")
    import cv2
    model = load_model(lightning_int8, delegate="edgetpu", edgetpu_path=edgetpu_model)
    assert model.delegate == "edgetpu", model.fallback_reason
    estimator = MoveNetEstimator(model)
    image = cv2.cvtColor(cv2.imread(str(shared / "data/coral_test_data/squat.bmp")), cv2.COLOR_BGR2RGB)
    pose = estimator.estimate_still(image, passes=1, crop=(0.0, 0.0, 1.0, 1.0))
    reference = np.loadtxt(shared / "models/coral/movenet_single_pose_lightning_ptq_edgetpu_reference.csv",
                           delimiter=",", skiprows=1)
    normalized = pose.keypoints[:, :2] / [image.shape[1], image.shape[0]]
    assert np.abs(normalized - reference[:, [4, 5]]).max() < 0.05
