"""pose-appliance doctor on a fake root tree: device nodes with real owners and modes, sysfs and procfs files,
/etc/passwd and /etc/group, a fake user; imports and libedgetpu faked at their boundary."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
from pathlib import Path

import pytest

from pose_appliance import doctor
from pose_appliance.commands import doctor as doctor_command
from pose_appliance.config import Config, replace
from pose_appliance.doctor import Check, Host, host_for, run_checks

VIDEO, RENDER, PLUGDEV, APEX, SERVICE = 44, 105, 46, 120, 990


class FakeRoot:
    def __init__(self, path: Path):
        self.path = path
        self.file("etc/group", f"root:x:0:\nvideo:x:{VIDEO}:pose-appliance\nrender:x:{RENDER}:pose-appliance\n"
                               f"plugdev:x:{PLUGDEV}:pose-appliance\napex:x:{APEX}:\n"
                               f"pose-appliance:x:{SERVICE}:\npi:x:1000:\n")
        self.file("etc/passwd", f"root:x:0:0::/root:/bin/bash\n"
                                f"pose-appliance:x:{SERVICE}:{SERVICE}::/var/lib/pose-appliance:/usr/sbin/nologin\n"
                                "pi:x:1000:1000::/home/pi:/bin/bash\n")

    def file(self, rel: str, text: str = "", *, mode: int = 0o644, gid: int = 0) -> Path:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        os.chown(path, 0, gid)
        return path

    def device(self, rel: str, gid: int = VIDEO, mode: int = 0o660) -> Path:
        return self.file(rel, mode=mode, gid=gid)

    def pi_camera(self):
        self.device("dev/media0")
        self.device("dev/media1")
        self.device("dev/video0")
        self.file("sys/class/video4linux/video0/name", "unicam-image\n")
        self.device("dev/dma_heap/linux,cma")

    def hdmi(self, status: str = "connected"):
        self.device("dev/dri/card1")
        self.device("dev/dri/renderD128", gid=RENDER)
        self.file("sys/class/drm/card1-HDMI-A-1/status", status + "\n")
        self.file("sys/class/drm/card1-HDMI-A-2/status", "disconnected\n")

    def coral_usb(self, product: str = "9302", mode: int = 0o664):
        device = "sys/bus/usb/devices/2-1"
        vendor = "18d1" if product == "9302" else "1a6e"
        for name, value in (("idVendor", vendor), ("idProduct", product), ("busnum", "2"), ("devnum", "3"),
                            ("speed", "5000")):
            self.file(f"{device}/{name}", value + "\n")
        self.file("sys/bus/usb/devices/usb1/idVendor", "1d6b\n")  # a root hub, not a Coral
        self.file("sys/bus/usb/devices/usb1/idProduct", "0002\n")
        self.device("dev/bus/usb/002/003", gid=PLUGDEV, mode=mode)


@pytest.fixture
def root(tmp_path) -> FakeRoot:
    return FakeRoot(tmp_path / "root")


def host(root: FakeRoot, user: str = "pose-appliance", *, importable=("picamera2", "pykms", "ai_edge_litert"),
         libedgetpu: bool = True, environ=None) -> Host:
    h = host_for(root.path, user)
    h.importable = lambda name: name in importable
    h.environ = environ or {}

    def load_library(name):
        if not libedgetpu:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")

    h.load_library = load_library
    return h


def pi_config(**changes) -> Config:
    config = replace(replace(Config(), "camera.type", "picamera2"), "display.type", "drm")
    for dotted, value in changes.items():
        config = replace(config, dotted.replace("__", "."), value)
    return config


def checks_for(config: Config, h: Host, tmp_path: Path) -> list[Check]:
    """run_checks on a config written to a file, with the models part left out (tested below)."""
    path = tmp_path / "config.toml"
    path.write_text(toml(config))
    return run_checks(path, h, models=lambda config, host: [])


def toml(config: Config) -> str:
    c = config
    return (f'[camera]\ntype = "{c.camera.type}"\n[camera.opencv]\ndevice = "{c.camera.opencv.device}"\n'
            f'[model]\ndelegate = "{c.model.delegate}"\n'
            f'[display]\ntype = "{c.display.type}"\n[display.fbdev]\ndevice = "{c.display.fbdev.device}"\n'
            f'[display.web]\nbind = "{c.display.web.bind}"\nport = {c.display.web.port}\n')


def by_status(checks: list[Check], status: str) -> list[str]:
    return [c.line() for c in checks if c.status == status]


# --------------------------------------------------------------------------------------------- a healthy Pi
def test_a_ready_pi_is_all_ok(root, tmp_path):
    root.pi_camera()
    root.hdmi()
    root.coral_usb()
    checks = checks_for(pi_config(), host(root), tmp_path)
    assert by_status(checks, "FAIL") == [] and by_status(checks, "WARN") == []
    lines = [c.line() for c in checks]
    assert "OK    user pose-appliance in groups video, render, plugdev" in lines
    assert "OK    camera: picamera2, 2 media device(s) (unicam-image)" in lines
    assert "OK    display drm on card1, monitor on HDMI-A-1" in lines
    assert "OK    edgetpu: USB 18d1:9302 running at 5000 Mb/s, libedgetpu loads" in lines
    assert "OK    runtime: ai_edge_litert" in lines


# ------------------------------------------------------------------------------------------------- camera
def test_camera_permission_names_the_group_and_the_fix(root, tmp_path):
    root.pi_camera()
    root.hdmi()
    (root.path / "etc/group").write_text((root.path / "etc/group").read_text().replace(
        "video:x:44:pose-appliance", "video:x:44:"))
    checks = checks_for(pi_config(), host(root), tmp_path)
    fails = by_status(checks, "FAIL")
    assert "FAIL  camera: pose-appliance cannot open /dev/media0  -- add pose-appliance to group 'video': " \
           "sudo usermod -aG video pose-appliance" in fails
    assert any(line.startswith("FAIL  display drm: pose-appliance cannot open /dev/dri/card1") for line in fails)
    assert "WARN  user pose-appliance not in group video" in by_status(checks, "WARN")[0]


def test_world_readable_nodes_need_no_group(root, tmp_path):
    root.pi_camera()
    root.device("dev/media0", mode=0o666)
    h = host(root, "pi")
    checks = checks_for(pi_config(display__type="null"), h, tmp_path)
    fails = by_status(checks, "FAIL")
    assert not any("/dev/media0" in line for line in fails)
    assert any("/dev/media1" in line for line in fails)


def test_no_camera_and_no_picamera2(root, tmp_path):
    checks = checks_for(pi_config(display__type="null"), host(root, importable=("ai_edge_litert",)),
                        tmp_path)
    fails = by_status(checks, "FAIL")
    assert fails[0].startswith("FAIL  camera: picamera2 is not importable  -- sudo apt install python3-picamera2")
    assert fails[1].startswith("FAIL  camera: no /dev/media* (no camera detected by the kernel)")
    assert "rpicam-hello --list-cameras" in fails[1]


def test_usb_webcam_by_index_and_missing(root, tmp_path):
    root.device("dev/video2")
    root.file("sys/class/video4linux/video2/name", "HD Pro Webcam C920\n")
    config = pi_config(camera__type="opencv", camera__opencv__device="2", display__type="null")
    assert "OK    camera: /dev/video2 (HD Pro Webcam C920)" in by_status(checks_for(config, host(root), tmp_path), "OK")
    config = replace(config, "camera.opencv.device", "/dev/video0")
    fails = by_status(checks_for(config, host(root), tmp_path), "FAIL")
    assert fails == ["FAIL  camera: /dev/video0 does not exist (video devices: /dev/video2)  "
                     "-- plug the webcam in, or set camera.opencv.device"]


# ------------------------------------------------------------------------------------------------ display
def test_a_desktop_blocks_drm_and_a_missing_monitor_warns(root, tmp_path):
    root.pi_camera()
    root.hdmi(status="disconnected")
    root.file("proc/1/comm", "systemd\n")
    root.file("proc/812/comm", "labwc\n")
    checks = checks_for(pi_config(), host(root, importable=("picamera2", "ai_edge_litert")), tmp_path)
    assert any(line.startswith("FAIL  display drm: a desktop holds the screen (labwc)")
               for line in by_status(checks, "FAIL"))
    warns = by_status(checks, "WARN")
    assert any(line.startswith("WARN  display drm: no connected monitor") for line in warns)
    assert any("sudo apt install python3-kms++" in line for line in warns)


def test_no_drm_card(root, tmp_path):
    checks = checks_for(pi_config(camera__type="video"), host(root), tmp_path)
    assert by_status(checks, "FAIL") == ["FAIL  display drm: no /dev/dri/card*  -- enable the KMS driver: "
                                         "dtoverlay=vc4-kms-v3d in /boot/firmware/config.txt, then reboot"]


def test_framebuffer_reports_its_mode(root, tmp_path):
    root.device("dev/fb0")
    for name, value in (("name", "vc4drmfb"), ("virtual_size", "1920,1080"), ("bits_per_pixel", "32")):
        root.file(f"sys/class/graphics/fb0/{name}", value + "\n")
    config = pi_config(camera__type="video", display__type="fbdev")
    assert "OK    display fbdev /dev/fb0 (vc4drmfb) 1920x1080 32 bpp" in by_status(
        checks_for(config, host(root), tmp_path), "OK")
    config = replace(config, "display.fbdev.device", "/dev/fb1")
    assert by_status(checks_for(config, host(root), tmp_path), "FAIL")[0].startswith(
        "FAIL  display fbdev: /dev/fb1 does not exist (framebuffers: fb0)")


def test_window_needs_a_session(root, tmp_path):
    config = pi_config(camera__type="video", display__type="window")
    h = host(root, importable=("pygame", "ai_edge_litert"))
    assert by_status(checks_for(config, h, tmp_path), "FAIL")[0].startswith(
        "FAIL  display window: no DISPLAY or WAYLAND_DISPLAY")
    h.environ = {"WAYLAND_DISPLAY": "wayland-0"}
    assert "OK    display window on wayland-0" in by_status(checks_for(config, h, tmp_path), "OK")


def test_web_port_in_use_warns(root, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = pi_config(camera__type="video", display__type="web", display__web__port=port)
        warns = by_status(checks_for(config, host(root), tmp_path), "WARN")
        assert warns[0].startswith(f"WARN  display web: cannot listen on 127.0.0.1:{port}")
    assert f"OK    display web on http://127.0.0.1:{port}/ (this machine only)" in by_status(
        checks_for(config, host(root), tmp_path), "OK")


# ------------------------------------------------------------------------------------------------ Edge TPU
def test_coral_before_firmware_without_libedgetpu_and_without_plugdev(root, tmp_path):
    root.coral_usb(product="089a", mode=0o660)
    (root.path / "etc/group").write_text((root.path / "etc/group").read_text().replace(
        "plugdev:x:46:pose-appliance", "plugdev:x:46:"))
    config = pi_config(camera__type="video", display__type="null")
    fails = by_status(checks_for(config, host(root, libedgetpu=False), tmp_path), "FAIL")
    assert fails == [
        "FAIL  edgetpu: pose-appliance cannot open /dev/bus/usb/002/003  -- add pose-appliance to group "
        "'plugdev': sudo usermod -aG plugdev pose-appliance",
        "FAIL  edgetpu: libedgetpu.so.1 cannot be loaded  -- sudo deploy/install.sh --with-coral "
        "(libedgetpu1-std from Coral's apt repository)"]


def test_coral_present_but_cpu_chosen_and_absent_but_required(root, tmp_path):
    config = pi_config(camera__type="video", display__type="null", model__delegate="edgetpu")
    warns = by_status(checks_for(config, host(root), tmp_path), "WARN")
    assert warns[0].startswith("WARN  edgetpu: no Coral device found; the model falls back to the CPU")
    root.device("dev/apex_0", gid=APEX)
    config = replace(config, "model.delegate", "cpu")
    checks = checks_for(config, host(root), tmp_path)
    assert any(line.startswith("FAIL  edgetpu: pose-appliance cannot open /dev/apex_0  -- add pose-appliance "
                               "to group 'apex'") for line in by_status(checks, "FAIL"))
    assert "WARN  edgetpu: apex_0, but model.delegate = \"cpu\"  -- set model.delegate = \"auto\" to use it" in \
        by_status(checks, "WARN")


# --------------------------------------------------------------------------------------- config, user, CLI
def test_a_broken_config_fails_and_the_rest_still_runs(root, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[display]\ntyp = "drm"\n')
    checks = run_checks(bad, host(root), models=lambda config, host: [])
    assert checks[0].status == "FAIL" and "display.typ: unknown key" in checks[0].what
    assert checks[0].fix.startswith("`pose-appliance check-config --example` shows every key")
    assert len(checks) > 3


@pytest.mark.parametrize("lines, words", [
    ('[model]\nname = "yoga_classifier"\n', "model.name: 'yoga_classifier' is a classifier entry of the manifest"),
    ('[classifier]\nname = "movenet_thunder_int8"\n', "classifier.name: 'movenet_thunder_int8' is a pose entry"),
])
def test_a_model_name_check_config_refuses_fails_here_too(root, tmp_path, lines, words):
    path = tmp_path / "config.toml"
    path.write_text(lines)
    checks = run_checks(path, host(root), models=lambda config, host: [])
    assert checks[0].status == "FAIL" and words in checks[0].what, checks[0].line()
    assert "pose-appliance models list" in checks[0].line()


def test_missing_default_config_is_a_warning_where_the_service_is_installed(root):
    checks = run_checks(None, host(root), models=lambda config, host: [])
    assert checks[0].line() == ("OK    config: the built-in defaults (no /etc/pose-appliance/config.toml: the service "
                                "is not installed here)  -- --config FILE checks another file")
    (root.path / "etc/pose-appliance").mkdir(parents=True, exist_ok=True)
    checks = run_checks(None, host(root), models=lambda config, host: [])
    assert checks[0].line() == ("WARN  config: no /etc/pose-appliance/config.toml, checking the built-in defaults  "
                                "-- pose-appliance check-config --example --preset pi | sudo tee "
                                "/etc/pose-appliance/config.toml")
    root.file("etc/pose-appliance/config.toml.example", "# the example\n")
    checks = run_checks(None, host(root), models=lambda config, host: [])
    assert checks[0].line().endswith("-- sudo cp /etc/pose-appliance/config.toml.example "
                                     "/etc/pose-appliance/config.toml")
    root.file("etc/pose-appliance/config.toml", '[display]\ntype = "null"\n')
    checks = run_checks(None, host(root), models=lambda config, host: [])
    assert checks[0].line() == f"OK    config {root.path}/etc/pose-appliance/config.toml"


def test_root_is_told_to_check_the_service_user(root):
    h = host_for(root.path, None)
    assert h.uid == 0
    assert doctor.check_user(h)[0].fix == \
        "the service runs as pose-appliance: add --user pose-appliance to check its groups"
    with pytest.raises(LookupError, match="no user 'nobody-here'"):
        host_for(root.path, "nobody-here")


def test_no_runtime(root, tmp_path):
    checks = checks_for(pi_config(camera__type="video", display__type="null"),
                        host(root, importable=()), tmp_path)
    assert "FAIL  runtime: neither ai_edge_litert nor tflite_runtime is importable  -- pip install " \
           "ai-edge-litert (in the appliance's venv)" in by_status(checks, "FAIL")


def test_cli_prints_one_line_per_check_and_fails_on_fail(root, tmp_path, capsys, lightning_int8,
                                                         yoga_classifier, yoga_labels, shared):
    config = tmp_path / "config.toml"
    config.write_text(f'[camera]\ntype = "opencv"\n[display]\ntype = "null"\n'
                      f'[model]\npath = "{lightning_int8}"\ndelegate = "cpu"\n'
                      f'[classifier]\npath = "{yoga_classifier}"\nlabels = "{yoga_labels}"\n')
    parser = argparse.ArgumentParser()
    doctor_command.add_arguments(parser)
    args = parser.parse_args(["--config", str(config), "--root", str(root.path), "--user", "pose-appliance"])
    assert doctor_command.run(args) == 1  # no /dev/video0 in the fake root
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"OK    config {config}"
    assert "FAIL  camera: /dev/video0 does not exist (video devices: none)  " \
           "-- plug the webcam in, or set camera.opencv.device" in out
    assert f"OK    model file {lightning_int8}" in out and f"OK    classifier file {yoga_classifier}" in out
    assert all(line[:6] in ("OK    ", "WARN  ", "FAIL  ") for line in out[:-1])
    assert out[-1].startswith(f"{len(out) - 1} checks: 1 failed")

    root.device("dev/video0")
    assert doctor_command.run(args) == 0


# ------------------------------------------------------------------------------------------------- models
def test_models_fetched_from_the_mirror_verify(root, models_dir):
    config = replace(replace(Config(), "service.models_dir", str(models_dir)), "camera.type", "video")
    root.device("dev/apex_0")  # with an Edge TPU present, its build of the model is checked too
    lines = [c.line() for c in doctor.check_models(config, host(root))]
    for name in ("movenet_lightning_int8", "movenet_lightning_int8_edgetpu", "yoga_classifier", "yoga_labels",
                 "demo_video"):
        assert any(line.startswith(f"OK    model {name}: {models_dir}/") and line.endswith("checksum verified")
                   for line in lines), (name, lines)
    assert len(lines) == 5


def test_a_damaged_model_fails_and_a_missing_edgetpu_build_only_warns(root, models_dir, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    classifier = copy / "yoga_classifier.tflite"
    data = bytearray(classifier.read_bytes())
    data[1000] ^= 0xFF  # same size, other bytes: only the checksum can tell
    classifier.write_bytes(bytes(data))
    (copy / "movenet_lightning_int8_edgetpu.tflite").unlink()
    config = replace(Config(), "service.models_dir", str(copy))
    lines = [c.line() for c in doctor.check_models(config, host(root))]
    assert any(line.startswith("FAIL  model yoga_classifier: wrong sha256") and
               line.endswith(f"-- pose-appliance models fetch --models-dir {copy} --force yoga_classifier")
               for line in lines), lines
    assert not any("edgetpu" in line for line in lines)  # no Edge TPU here: its build does not matter
    root.device("dev/apex_0")
    lines = [c.line() for c in doctor.check_models(config, host(root))]
    assert f"WARN  model movenet_lightning_int8_edgetpu: not fetched into {copy}  -- pose-appliance models " \
           f"fetch --models-dir {copy} movenet_lightning_int8_edgetpu" in lines
    config = replace(config, "model.delegate", "edgetpu")
    lines = [c.line() for c in doctor.check_models(config, host(root))]
    assert any(line.startswith("FAIL  model movenet_lightning_int8_edgetpu: not fetched") for line in lines)
    config = replace(config, "model.delegate", "cpu")
    lines = [c.line() for c in doctor.check_models(config, host(root))]
    assert not any("edgetpu" in line for line in lines)


def test_the_installed_services_models_dir_is_found_without_the_units_environment(root):
    (root.path / "var/lib/pose-appliance/models").mkdir(parents=True)
    assert doctor.models_dir_for(Config(), host(root)) == root.path / "var/lib/pose-appliance/models"
    h = host(root, environ={"POSE_APPLIANCE_MODELS": "/srv/models"})
    assert doctor.models_dir_for(Config(), h) == Path("/srv/models")
    assert doctor.models_dir_for(replace(Config(), "service.models_dir", "/x"), h) == Path("/x")


def test_an_unknown_model_name_points_at_the_list(root, models_dir):
    config = replace(replace(Config(), "service.models_dir", str(models_dir)), "model.name", "movenet_lightnin")
    lines = [c.line() for c in doctor.check_models(config, host(root))]
    assert lines[0] == "FAIL  model movenet_lightnin: not in the manifest  -- pose-appliance models list"
