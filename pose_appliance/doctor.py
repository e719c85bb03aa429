"""Is this machine ready to run the configured appliance? The checks behind ``pose-appliance doctor``.

One line per check, ``OK|WARN|FAIL  what  -- fix``; exit status 1 when anything FAILs. It looks at what the
config uses: the camera (device nodes, permissions, picamera2), the display target (DRM card and connector,
framebuffer, desktop session, web port), the Edge TPU (USB/PCIe device, libedgetpu), the MQTT broker (a real
login), the models and their checksums, the config file itself and the groups of the user that runs the service.
``--root`` points every /dev, /sys, /proc and /etc path into a fake tree (tests). The command is
:mod:`pose_appliance.commands.doctor`.
"""

from __future__ import annotations

import ctypes
import glob
import grp
import importlib.util
import os
import pwd
import socket
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pose_appliance.config import Config, ConfigError, load_config
from pose_appliance.inference.runtime import EDGETPU_USB_IDS
from pose_appliance.modelstore import SERVICE_MODELS_DIR

DEFAULT_CONFIG = "/etc/pose-appliance/config.toml"
SERVICE_USER = "pose-appliance"
# Groups that own the devices on Raspberry Pi OS: cameras, dma_heap, vchiq, fb and DRM cards (video),
# render nodes (render), the Coral USB Accelerator through libedgetpu's udev rule (plugdev).
DEVICE_GROUPS = ("video", "render", "plugdev")
DESKTOPS = ("Xorg", "Xwayland", "labwc", "wayfire", "weston", "sway", "kwin_wayland", "gnome-shell", "lxsession")


@dataclass(frozen=True)
class Check:
    status: str  # OK, WARN or FAIL
    what: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status:<4}  {self.what}" + (f"  -- {self.fix}" if self.fix else "")


@dataclass
class Host:
    """The machine as the checks see it. Tests build one on a fake root with a fake user and libraries."""

    root: Path = Path("/")
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    user: str = ""
    uid: int = -1
    gids: frozenset[int] = frozenset()
    importable: Callable[[str], bool] = lambda name: importlib.util.find_spec(name) is not None
    load_library: Callable[[str], object] = ctypes.CDLL

    def path(self, absolute: str | os.PathLike) -> Path:
        return self.root / str(absolute).lstrip("/")

    def glob(self, pattern: str) -> list[Path]:
        return sorted(Path(p) for p in glob.glob(str(self.path(pattern))))

    @staticmethod
    def read(path: Path) -> str:
        """A small sysfs/procfs file under the root, stripped; empty when it cannot be read."""
        try:
            return path.read_text().strip()
        except (OSError, UnicodeDecodeError):
            return ""

    def group_names(self) -> dict[int, str]:
        if self.root == Path("/"):
            return {g.gr_gid: g.gr_name for g in grp.getgrall()}
        return {int(f[2]): f[0] for f in _colon_file(self.path("/etc/group"))}

    def can_read_write(self, path: Path) -> bool:
        """From the mode bits, as the kernel decides for this user (root may do anything)."""
        if self.uid == 0:
            return True
        st = path.stat()
        if st.st_uid == self.uid:
            bits = stat.S_IRUSR | stat.S_IWUSR
        elif st.st_gid in self.gids:
            bits = stat.S_IRGRP | stat.S_IWGRP
        else:
            bits = stat.S_IROTH | stat.S_IWOTH
        return st.st_mode & bits == bits

    def access_fix(self, path: Path) -> str:
        group = self.group_names().get(path.stat().st_gid, str(path.stat().st_gid))
        return f"add {self.user} to group {group!r}: sudo usermod -aG {group} {self.user}"


def host_for(root: Path, user: str | None) -> Host:
    """The running user, or the named one (e.g. the service's account) with the groups it would get."""
    host = Host(root=root)
    if user is None:
        host.uid, host.gids = os.getuid(), frozenset(os.getgroups()) | {os.getgid()}
        host.user = _user_name(host, host.uid)
        return host
    if root == Path("/"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise LookupError(f"no user {user!r} on this machine") from None
        host.uid, host.gids = entry.pw_uid, frozenset(os.getgrouplist(user, entry.pw_gid))
    else:
        passwd = next((f for f in _colon_file(host.path("/etc/passwd")) if f[0] == user), None)
        if passwd is None:
            raise LookupError(f"no user {user!r} in {host.path('/etc/passwd')}")
        host.uid = int(passwd[2])
        host.gids = frozenset({int(passwd[3])} | {int(f[2]) for f in _colon_file(host.path("/etc/group"))
                                                 if user in f[3].split(",")})
    host.user = user
    return host


def _user_name(host: Host, uid: int) -> str:
    if host.root == Path("/"):
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)
    return next((f[0] for f in _colon_file(host.path("/etc/passwd")) if f[2] == str(uid)), str(uid))


def _colon_file(path: Path) -> list[list[str]]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [line.split(":") + [""] * 4 for line in lines if line and not line.startswith("#")]


# ----------------------------------------------------------------------------------------------------- checks
def check_config(path: Path | None, host: Host) -> tuple[list[Check], Config]:
    if path is None:
        default = host.path(DEFAULT_CONFIG)
        if not default.is_file():
            if not default.parent.is_dir():  # no service installed here: run uses its built-in defaults
                return [Check("OK", f"config: the built-in defaults (no {DEFAULT_CONFIG}: the service is not "
                                     "installed here)", "--config FILE checks another file")], Config()
            example = default.with_name(default.name + ".example")
            fix = (f"sudo cp {DEFAULT_CONFIG}.example {DEFAULT_CONFIG}" if example.is_file() else
                   f"pose-appliance check-config --example --preset pi | sudo tee {DEFAULT_CONFIG}")
            return [Check("WARN", f"config: no {DEFAULT_CONFIG}, checking the built-in defaults", fix)], Config()
        path = default
    try:
        config = load_config(path)
    except ConfigError as exc:
        return [Check("FAIL", f"config: {exc}", "`pose-appliance check-config --example` shows every key with "
                                                "its documentation; the rest of these checks use the defaults")], \
            Config()
    from pose_appliance import modelstore

    # Names run (and check-config, the unit's ExecStartPre) refuses; the other checks still look at the rest.
    name_errors = manifest_name_errors(config, modelstore.load_manifest(), str(path))
    return [Check("FAIL", f"config: {error}") for error in name_errors] or [Check("OK", f"config {path}")], config


def check_user(host: Host) -> list[Check]:
    names = host.group_names()
    if host.uid == 0:
        return [Check("OK", "user root: may open every device",
                      f"the service runs as {SERVICE_USER}: add --user {SERVICE_USER} to check its groups")]
    existing = [g for g in DEVICE_GROUPS if g in names.values()]
    member = {names.get(gid) for gid in host.gids}
    missing = [g for g in existing if g not in member]
    if missing:
        return [Check("WARN", f"user {host.user} not in group {', '.join(missing)}",
                      f"sudo usermod -aG {','.join(missing)} {host.user} "
                      "(then log in again or restart the service)")]
    if not existing:
        return [Check("OK", f"user {host.user}: none of the groups {', '.join(DEVICE_GROUPS)} exist here")]
    return [Check("OK", f"user {host.user} in groups {', '.join(existing)}")]


def check_devices(host: Host, paths: Iterable[Path], what: str) -> list[Check]:
    """FAIL for each device node this user cannot open read-write."""
    checks = []
    for path in paths:
        if not host.can_read_write(path):
            checks.append(Check("FAIL", f"{what}: {host.user} cannot open /{path.relative_to(host.root)}",
                                host.access_fix(path)))
    return checks


def check_camera(config: Config, host: Host) -> list[Check]:
    camera = config.camera
    if camera.type == "picamera2":
        checks = []
        if not host.importable("picamera2"):
            checks.append(Check("FAIL", "camera: picamera2 is not importable",
                                "sudo apt install python3-picamera2, in a venv made with --system-site-packages"))
        media = host.glob("/dev/media*")
        if not media:
            return checks + [Check("FAIL", "camera: no /dev/media* (no camera detected by the kernel)",
                                   "check the ribbon cable and camera_auto_detect=1 in /boot/firmware/config.txt, "
                                   "then: rpicam-hello --list-cameras")]
        nodes = media + host.glob("/dev/video*") + host.glob("/dev/dma_heap/*")
        denied = check_devices(host, nodes, "camera")
        names = sorted({host.read(host.path(f"/sys/class/video4linux/{p.name}/name"))
                        for p in host.glob("/dev/video*")} - {""})
        summary = Check("OK", f"camera: picamera2, {len(media)} media device(s)"
                              + (f" ({', '.join(names)})" if names else ""))
        return checks + (denied or [summary])
    if camera.type == "opencv":
        device = camera.opencv.device
        node = Path(f"/dev/video{device}" if device.isdigit() else device)
        path = host.path(node)
        if not path.exists():
            found = ", ".join("/" + str(p.relative_to(host.root)) for p in host.glob("/dev/video*")) or "none"
            return [Check("FAIL", f"camera: {node} does not exist (video devices: {found})",
                          "plug the webcam in, or set camera.opencv.device")]
        name = host.read(host.path(f"/sys/class/video4linux/{node.name}/name"))
        summary = Check("OK", f"camera: {node}" + (f" ({name})" if name else ""))
        return check_devices(host, [path], "camera") or [summary]
    source = getattr(camera, camera.type)
    if not source.path:
        return [Check("OK", f"camera: {camera.type} source, the demo video (see models)")]
    kind = "folder" if camera.type == "images" else "file"
    if not (Path(source.path).is_dir() if kind == "folder" else Path(source.path).is_file()):
        return [Check("FAIL", f"camera: {camera.type} source {source.path} not found",
                      f"set camera.{camera.type}.path to an existing {kind}")]
    return [Check("OK", f"camera: {camera.type} source {source.path}")]


def check_display(config: Config, host: Host) -> list[Check]:
    display = config.display
    kind = display.type
    if kind == "drm":
        return _check_drm(host)
    if kind == "fbdev":
        return _check_fbdev(display.fbdev.device, host)
    if kind == "window":
        checks = []
        if not host.importable("pygame"):
            checks.append(Check("FAIL", "display window: pygame is not importable", "pip install pygame"))
        if display.window.driver == "kmsdrm":
            return checks + _check_drm(host)
        session = host.environ.get("WAYLAND_DISPLAY") or host.environ.get("DISPLAY")
        if not session:
            return checks + [Check("FAIL", "display window: no DISPLAY or WAYLAND_DISPLAY",
                                   "run inside the desktop session, or use display.type = \"drm\" without one")]
        return checks + [Check("OK", f"display window on {session}")]
    if kind == "web":
        return [_check_port(display.web.bind, display.web.port)]
    if kind == "record":
        parent = Path(display.record.path).resolve().parent
        while not parent.exists():
            parent = parent.parent
        if not os.access(parent, os.W_OK):
            return [Check("FAIL", f"display record: cannot write under {parent}",
                          "set display.record.path to a writable place")]
        return [Check("OK", f"display record to {display.record.path}")]
    return [Check("OK", "display null: no picture, pipeline only")]


def _check_drm(host: Host) -> list[Check]:
    cards = host.glob("/dev/dri/card*")
    if not cards:
        return [Check("FAIL", "display drm: no /dev/dri/card*",
                      "enable the KMS driver: dtoverlay=vc4-kms-v3d in /boot/firmware/config.txt, then reboot")]
    checks = check_devices(host, cards + host.glob("/dev/dri/renderD*"), "display drm")
    connected = [p.parent.name for p in host.glob("/sys/class/drm/card*-*/status") if host.read(p) == "connected"]
    if not connected:
        checks.append(Check("WARN", "display drm: no connected monitor",
                            "plug in HDMI (before boot on a Pi 4, or add video=HDMI-A-1:1920x1080@60D to cmdline.txt)"))
    desktops = sorted({host.read(p) for p in host.glob("/proc/[0-9]*/comm")} & set(DESKTOPS))
    if desktops:
        checks.append(Check("FAIL", f"display drm: a desktop holds the screen ({', '.join(desktops)})",
                            "boot to the console (sudo systemctl set-default multi-user.target; reboot), "
                            "or use display.type = \"window\" inside the desktop"))
    if not host.importable("pykms"):
        checks.append(Check("WARN", "display drm: pykms not importable (picamera2's DRM preview needs it)",
                            "sudo apt install python3-kms++"))
    if not checks:
        checks.append(Check("OK", f"display drm on {', '.join(p.name for p in cards)}, "
                                  f"monitor on {', '.join(c.split('-', 1)[1] for c in connected)}"))
    return checks


def _check_fbdev(device: str, host: Host) -> list[Check]:
    path = host.path(device)
    if not path.exists():
        found = ", ".join(p.name for p in host.glob("/dev/fb*")) or "none"
        return [Check("FAIL", f"display fbdev: {device} does not exist (framebuffers: {found})",
                      "set display.fbdev.device, or enable the fbdev emulation of the KMS driver")]
    denied = check_devices(host, [path], "display fbdev")
    sysfs = host.path(Path("/sys/class/graphics") / path.name)
    name, size, bpp = (host.read(sysfs / f) for f in ("name", "virtual_size", "bits_per_pixel"))
    if not size:
        return denied + [Check("WARN", f"display fbdev: no /sys/class/graphics/{path.name}/virtual_size",
                               f"is {device} a framebuffer? set display.fbdev.device to one of /dev/fb*")]
    return denied or [Check("OK", f"display fbdev {device} ({name}) {size.replace(',', 'x')} {bpp} bpp")]


def _check_port(bind: str, port: int) -> Check:
    from pose_appliance.display.web_display import is_loopback, listen_address  # the address the display takes

    try:
        family, address = listen_address(bind, port)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        return Check("WARN", f"display web: cannot listen on {bind}:{port} ({exc.strerror})",
                     "if pose-appliance itself is running that is fine; else free the port or set display.web.port")
    scope = "this machine only" if is_loopback(bind) else "the network"
    return Check("OK", f"display web on http://{bind}:{port}/ ({scope})")


def coral_devices(host: Host) -> tuple[list[tuple[Path, tuple[str, str]]], list[Path]]:
    """(USB Accelerators as (sysfs device, ids), PCIe /dev/apex_N nodes) present on this machine."""
    usb = []
    for device in host.glob("/sys/bus/usb/devices/*"):
        ids = (host.read(device / "idVendor"), host.read(device / "idProduct"))
        if ids in EDGETPU_USB_IDS:
            usb.append((device, ids))
    return usb, host.glob("/dev/apex_*")


def check_edgetpu(config: Config, host: Host) -> list[Check]:
    delegate = config.model.delegate
    usb, apex = coral_devices(host)
    if not usb and not apex:
        if delegate == "edgetpu":
            return [Check("WARN", "edgetpu: no Coral device found; the model falls back to the CPU",
                          "plug the USB Accelerator in (a USB 3 port that powers it), or set model.delegate")]
        return [Check("OK", "edgetpu: none found, the model runs on the CPU")]
    found = []
    checks = []
    for device, ids in usb:
        speed = host.read(device / "speed")
        found.append(f"USB {':'.join(ids)} {EDGETPU_USB_IDS[ids]}" + (f" at {speed} Mb/s" if speed else ""))
        bus, dev = host.read(device / "busnum"), host.read(device / "devnum")
        node = host.path(f"/dev/bus/usb/{int(bus or 0):03d}/{int(dev or 0):03d}")
        if node.exists():
            checks += check_devices(host, [node], "edgetpu")
    checks += check_devices(host, apex, "edgetpu")
    found += [p.name for p in apex]
    try:
        host.load_library("libedgetpu.so.1")
    except OSError:
        if delegate != "cpu":
            checks.append(Check("FAIL", "edgetpu: libedgetpu.so.1 cannot be loaded",
                                "sudo deploy/install.sh --with-coral (libedgetpu1-std from Coral's apt repository)"))
    if delegate == "cpu":
        checks.append(Check("WARN", f"edgetpu: {'; '.join(found)}, but model.delegate = \"cpu\"",
                            "set model.delegate = \"auto\" to use it"))
    return checks or [Check("OK", f"edgetpu: {'; '.join(found)}, libedgetpu loads")]


def model_names(config: Config, manifest: Mapping[str, Any], *,
                edgetpu_found: bool = True) -> list[tuple[str, bool]]:
    """(manifest name, required) of every fetched file this config reads. The Edge TPU build counts only when
    it may be used (model.delegate = "edgetpu", or "auto" with a device found) and is required only for "edgetpu"."""
    names = []
    if not config.model.path:
        names.append((config.model.name, True))
        entry = manifest.get(config.model.name)
        wanted = config.model.delegate == "edgetpu" or (config.model.delegate == "auto" and edgetpu_found)
        if entry is not None and entry.edgetpu and wanted:
            names.append((entry.edgetpu, config.model.delegate == "edgetpu"))
    if config.classifier.enabled and not config.classifier.path:
        names.append((config.classifier.name, True))
        entry = manifest.get(config.classifier.name)
        if entry is not None and entry.labels and not config.classifier.labels:
            names.append((entry.labels, True))
    if config.camera.type == "video" and not config.camera.video.path:
        names.append(("demo_video", True))
    return names


def manifest_name_errors(config: Config, manifest: Mapping[str, Any], source: str) -> list[ConfigError]:
    """model.name and classifier.name must name a pose model and a classifier of the manifest (``run`` refuses
    anything else, so the check before a start must too)."""
    import difflib

    from pose_appliance import modelstore

    errors = []
    named = [("model.name", config.model.name, "pose")]
    if config.classifier.enabled:
        named.append(("classifier.name", config.classifier.name, "classifier"))
    for key, name, kind in named:
        entry = manifest.get(name)
        edgetpu_build = modelstore.edgetpu_build_problem(dict(manifest), name) if kind == "pose" else None
        if edgetpu_build is not None:
            errors.append(ConfigError(source, key, *edgetpu_build))
            continue
        if entry is not None and entry.kind == kind:
            continue
        choices = ([e.name for e in modelstore.pose_models(dict(manifest))] if kind == "pose" else
                   [n for n, e in manifest.items() if e.kind == kind])
        close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
        problem = (f"{name!r} is not a {kind} model of the manifest" if entry is None
                   else f"{name!r} is a {entry.kind} entry of the manifest, not a {kind} model")
        errors.append(ConfigError(source, key, problem, (f"did you mean {close[0]!r}? " if close else "")
                                  + f"choose one of {', '.join(choices)}; `pose-appliance models list` shows them"))
    return errors


def models_dir_for(config: Config, host: Host) -> Path:
    """The service's models dir: the config's, else $POSE_APPLIANCE_MODELS, else the installed service's
    (its unit sets that variable, which a shell running doctor does not have), else the user's cache."""
    from pose_appliance import modelstore

    chosen = config.service.models_dir or host.environ.get("POSE_APPLIANCE_MODELS", "")
    if not chosen and host.path(SERVICE_MODELS_DIR).is_dir():
        return host.path(SERVICE_MODELS_DIR)
    return modelstore.resolve_models_dir(chosen)


def check_models(config: Config, host: Host) -> list[Check]:
    from pose_appliance import modelstore

    checks = []
    own_files = [("model file", "model.path", config.model.path)]
    if config.classifier.enabled:
        own_files += [("classifier file", "classifier.path", config.classifier.path),
                      ("classifier labels", "classifier.labels", config.classifier.labels)]
    for what, key, path in own_files:
        if path:
            checks.append(Check("OK", f"{what} {path}") if Path(path).is_file() else
                          Check("FAIL", f"{what} {path} not found",
                                f"fix {key}, or leave it empty for the fetched file"))
    manifest = modelstore.load_manifest()
    models_dir = models_dir_for(config, host)
    for name, required in model_names(config, manifest, edgetpu_found=any(coral_devices(host))):
        entry = manifest.get(name)
        if entry is None:
            checks.append(Check("FAIL", f"model {name}: not in the manifest", "pose-appliance models list"))
            continue
        state = modelstore.status(entry, models_dir)
        if state == "present":
            checks.append(Check("OK", f"model {name}: {models_dir / entry.file}, checksum verified"))
        elif state == "missing":
            checks.append(Check("FAIL" if required else "WARN", f"model {name}: not fetched into {models_dir}",
                                f"pose-appliance models fetch --models-dir {models_dir} {name}"))
        else:
            try:
                modelstore.verify(entry, models_dir / entry.file)
            except modelstore.ModelError as exc:
                checks.append(Check("FAIL", f"model {exc}",
                                    f"pose-appliance models fetch --models-dir {models_dir} --force {name}"))
    return checks


def check_runtime(host: Host) -> list[Check]:
    for name in ("ai_edge_litert", "tflite_runtime"):
        if host.importable(name):
            return [Check("OK", f"runtime: {name}")]
    return [Check("FAIL", "runtime: neither ai_edge_litert nor tflite_runtime is importable",
                  "pip install ai-edge-litert (in the appliance's venv)")]


def check_events(config: Config) -> list[Check]:
    """For events.type = "mqtt": the settings, and a real login at the broker."""
    if config.events.type != "mqtt":
        return []
    from pose_appliance.events import EventsError
    from pose_appliance.events.mqtt_sink import MqttEventSink

    mqtt = config.events.mqtt
    try:
        sink = MqttEventSink(mqtt)
    except (EventsError, OSError) as exc:
        return [Check("FAIL", f"events: {exc}", "fix [events.mqtt] in the config")]
    problem = sink.probe()
    if problem is None:
        return [Check("OK", f"events mqtt: logged in at {sink.broker}{' as ' + mqtt.username if mqtt.username else ''}"
                            f"{' with TLS' if mqtt.tls else ''}, topics {mqtt.topic_prefix}/{sink.device}/...")]
    fix = ("check events.mqtt.username and the password in events.mqtt.password_file" if "refused the login" in problem
           else "start the broker (systemctl status mosquitto) or correct events.mqtt.host/port/tls")
    return [Check("FAIL", f"events mqtt: {problem}", fix)]


def run_checks(config_path: Path | None, host: Host, *,
               models: Callable[[Config, Host], list[Check]] | None = None) -> list[Check]:
    checks, config = check_config(config_path, host)
    checks += check_user(host)
    checks += check_runtime(host)
    checks += check_camera(config, host)
    checks += check_display(config, host)
    checks += check_edgetpu(config, host)
    checks += check_events(config)
    checks += (models or check_models)(config, host)
    return checks
