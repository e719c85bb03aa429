"""The appliance's one config file: a strict, documented schema.

Reading (TOML text -> dict) is separate from validation (dict -> frozen dataclasses). Every field carries its
documentation in ``metadata["doc"]``; ``pose-appliance check-config --example`` prints it. Unknown keys, wrong types
and bad choices are rejected with the file, the key and a hint.

Backends are picked by a ``type`` field and configured in a sub-table named after the type, so switching
backend is a one-line edit and the other backends' settings stay in the file::

    [display]
    type = "fbdev"
    [display.fbdev]
    device = "/dev/fb0"
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pose_appliance.errors import shorten
from pose_appliance.modelstore.models_dir import USER_MODELS_DIR


class ConfigError(ValueError):
    """A config problem, phrased for the person who edits the file: where, what, and how to fix it."""

    def __init__(self, source: str, key: str, problem: str, hint: str = ""):
        self.source, self.key, self.problem, self.hint = source, key, problem, hint
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem + (f" ({hint})" if hint else ""))


def doc(text: str, default: Any = dataclasses.MISSING, *, minimum: float | None = None,
        maximum: float | None = None) -> Any:
    """A documented field; the allowed values of a ``Literal`` field are its type's arguments."""
    meta = {"doc": text, "minimum": minimum, "maximum": maximum}
    return field(default=default, metadata=meta)


def section(cls: type, text: str) -> Any:
    return field(default_factory=cls, metadata={"doc": text})


# ---------------------------------------------------------------------------------------------------- camera
# true, false, or "auto": on when someone watches the picture live (display web, window, drm or fbdev).
AutoBool = bool | Literal["auto"]
AUTO_PLAYBACK = ("Start again at the end instead of stopping the pipeline. \"auto\" = yes when the display is "
                 "watched live (web, window, drm, fbdev), no when it records (record, null).")
CameraType = Literal["video", "images", "opencv", "picamera2"]


@dataclass(frozen=True)
class VideoSourceConfig:
    path: str = doc("Video file to play. Empty = the demo video fetched with the models.", "")
    loop: AutoBool = doc(AUTO_PLAYBACK, "auto")
    realtime: AutoBool = doc("Play at the file's frame rate and drop frames a slow pipeline cannot take, like a "
                             "camera (true), or hand every frame to the pipeline as fast as it goes (false). "
                             "\"auto\" = true when the display is watched live, false when it records.", "auto")


@dataclass(frozen=True)
class ImageFolderSourceConfig:
    path: str = doc("Folder of .jpg/.jpeg/.png/.bmp images, read in name order.", "")
    loop: AutoBool = doc("Start again after the last image. \"auto\" = yes when the display is watched live "
                         "(web, window, drm, fbdev), no when it records (record, null).", "auto")
    fps: float = doc("Frames per second when realtime is on.", 5.0, minimum=0.1, maximum=240)
    realtime: AutoBool = doc("Pace images at fps and drop what the pipeline cannot take. \"auto\" = true when "
                             "the display is watched live, false when it records.", "auto")


@dataclass(frozen=True)
class OpenCVSourceConfig:
    device: str = doc("V4L2 device path (/dev/video0) or camera index (\"0\").", "/dev/video0")


@dataclass(frozen=True)
class Picamera2SourceConfig:
    camera_num: int = doc("Which camera when more than one is connected (0 = first).", 0, minimum=0)
    hflip: bool = doc("Mirror the image left-right.", False)
    vflip: bool = doc("Flip the image upside down.", False)
    buffer_count: int = doc("Frame buffers libcamera allocates; the DRM overlay needs at least 2.", 4,
                            minimum=2, maximum=16)


@dataclass(frozen=True)
class CameraConfig:
    type: CameraType = doc("Frame source: picamera2 (Pi camera), opencv (USB webcam via V4L2), "
                           "video (file), images (folder).", "video")
    width: int = doc("Width of the display stream in pixels; 0 = the source's own size (files only).", 0,
                     minimum=0, maximum=4096)
    height: int = doc("Height of the display stream in pixels; 0 = the source's own size (files only).", 0,
                      minimum=0, maximum=4096)
    fps: float = doc("Frames per second asked of a camera.", 30.0, minimum=1, maximum=240)
    video: VideoSourceConfig = section(VideoSourceConfig, "Settings used when type = \"video\".")
    images: ImageFolderSourceConfig = section(ImageFolderSourceConfig, "Settings used when type = \"images\".")
    opencv: OpenCVSourceConfig = section(OpenCVSourceConfig, "Settings used when type = \"opencv\".")
    picamera2: Picamera2SourceConfig = section(Picamera2SourceConfig, "Settings used when type = \"picamera2\".")


# ----------------------------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class ModelConfig:
    name: str = doc("Pose model, by its name in the model manifest (pose-appliance models list). Not an _edgetpu "
                    "build: name its CPU model; delegate picks the Edge TPU build.", "movenet_lightning_int8")
    path: str = doc("Use this .tflite file instead of the named model's file (its name still says which "
                    "decoder applies). Empty = the fetched file.", "")
    delegate: Literal["auto", "cpu", "edgetpu"] = doc(
        "auto = Coral Edge TPU when a device is present and the model has an _edgetpu build, else CPU; "
        "cpu = XNNPACK on the CPU; edgetpu = Edge TPU, falling back to CPU with a logged reason.", "auto")
    edgetpu_device: str = doc("Which Edge TPU: \"usb\", \"usb:N\", \"pci:N\", or \"\" for the first found.", "")
    threads: int = doc("CPU threads for the model; 0 = one per core, at most 4. More threads than cores "
                       "makes it slower, not faster.", 0, minimum=0, maximum=16)
    tracking: bool = doc("Crop the next frame around the last pose so the model sees the person larger "
                         "(MoveNet smart cropping).", True)
    smoothing: bool = doc("Smooth keypoints over time with a one-euro filter (less jitter).", True)
    min_crop_keypoint_score: float = doc("Keypoints below this score do not shape the tracking crop.", 0.2,
                                         minimum=0.0, maximum=1.0)


# ------------------------------------------------------------------------------------------------ classifier
@dataclass(frozen=True)
class ClassifierConfig:
    enabled: bool = doc("Name the pose with the classifier below.", True)
    name: str = doc("Classifier, by its name in the model manifest (pose-appliance models list).", "yoga_classifier")
    path: str = doc("Use this classifier .tflite instead (for example one made by train-classifier). "
                    "Empty = the fetched file.", "")
    labels: str = doc("Labels file, one per line in output order. Empty = the manifest's labels for the "
                      "named classifier, or <path without .tflite>_labels.txt / labels.txt beside it.", "")
    reference: str = doc("Pose reference of the classifier's classes (.npz from train-classifier, or a keypoint "
                         "CSV): the open-set check. Empty = reference.npz beside classifier.path, or the "
                         "manifest's training keypoints of the named classifier.", "")
    min_familiarity: float = doc("Open-set check: a pose is named only when the class the classifier picks is also "
                                 "its nearest class, no other class finds it more than twice as typical, and at "
                                 "least this fraction of held-out training poses of "
                                 "that class are as far from it (0.02 = stranger than 98 % of real examples "
                                 "is refused). When the classifier's class fails, the nearest class is named if "
                                 "the pose is twice as near to it as to any other and at least this familiar to "
                                 "it. Either way the pose must show at least half of the body points that "
                                 "class's nearest training poses show. A photo is judged on the picture and its "
                                 "mirror image together (scores and distances averaged over the two). "
                                 "Raise it to name fewer non-yoga poses, lower it to name more "
                                 "unusual yoga poses; 0 = off (every person gets the classifier's label).", 0.02,
                                 minimum=0.0, maximum=1.0)
    min_keypoint_score: float = doc("A keypoint scoring below this counts as not seen. The pose is refused (and "
                                    "the overlay says what is missing) without a shoulder and a hip, without "
                                    "the feet, when the frame's edge cuts the body, or with fewer than "
                                    "min_visible_keypoints seen; unseen keypoints "
                                    "are filled in from the nearest reference pose for the classifier.", 0.2,
                                    minimum=0.0, maximum=1.0)
    min_visible_keypoints: int = doc("Fewest keypoints (of 17) that must be seen to name a pose.", 8,
                                     minimum=4, maximum=17)
    min_label_score: float = doc("A label is shown only once its smoothed score reaches this.", 0.6,
                                 minimum=0.0, maximum=1.0)
    hysteresis: float = doc("A new label (or \"no label\", which competes like a class) replaces the shown one "
                            "only when its smoothed score beats the shown one's by this margin (stops "
                            "flicker).", 0.1, minimum=0.0, maximum=1.0)
    smoothing: float = doc("Weight of the newest frame in the per-class moving average of scores (1 = no "
                           "smoothing).", 0.3, minimum=0.01, maximum=1.0)
    label_grace_seconds: float = doc("A shown label stays through a lost pose (no label) for as long as it "
                                     "had been shown, at most this long, so a held pose refused for a few "
                                     "frames does not blink; another label replaces it at once. 0 = off.",
                                     0.5, minimum=0.0, maximum=10.0)
    top_k: int = doc("How many classes the overlay and status list.", 3, minimum=1, maximum=20)


# --------------------------------------------------------------------------------------------------- overlay
@dataclass(frozen=True)
class OverlayConfig:
    skeleton: bool = doc("Draw the skeleton lines.", True)
    keypoints: bool = doc("Draw the keypoint dots.", True)
    label: bool = doc("Write the pose label and its score.", True)
    fps: bool = doc("Write the frames per second.", True)
    keypoint_threshold: float = doc("Keypoints (and lines between them) below this score are not drawn.",
                                    0.3, minimum=0.0, maximum=1.0)
    line_width: int = doc("Skeleton line width in display pixels.", 3, minimum=1, maximum=20)


# --------------------------------------------------------------------------------------------------- display
DisplayType = Literal["record", "null", "drm", "fbdev", "window", "web"]


@dataclass(frozen=True)
class RecordDisplayConfig:
    path: str = doc("Where to write: a .mp4/.avi/.mkv file, or a folder for numbered PNG frames.",
                    "out/overlay.mp4")
    every: int = doc("Write every Nth frame only (PNG folders get big).", 1, minimum=1)


@dataclass(frozen=True)
class DrmDisplayConfig:
    fullscreen: bool = doc("Fill the screen (keeping the aspect ratio) instead of the camera's own size.", True)


@dataclass(frozen=True)
class FbdevDisplayConfig:
    device: str = doc("Framebuffer device, e.g. /dev/fb0 (HDMI on a console-booted Pi).", "/dev/fb0")


@dataclass(frozen=True)
class WindowDisplayConfig:
    title: str = doc("Window title.", "pose-appliance")
    fullscreen: bool = doc("Open full screen.", False)
    driver: str = doc("SDL video driver: \"\" = SDL's choice, \"kmsdrm\" for a console, \"x11\", "
                      "\"wayland\".", "")


@dataclass(frozen=True)
class WebDisplayConfig:
    bind: str = doc("Address to listen on. 127.0.0.1 (::1) = this machine only; 0.0.0.0 = the whole network "
                    "over IPv4, :: = over IPv6 and IPv4 (a trusted network: plain HTTP, set token).",
                    "127.0.0.1")
    port: int = doc("TCP port of the status page and the MJPEG stream.", 8080, minimum=1, maximum=65535)
    jpeg_quality: int = doc("JPEG quality of the stream.", 80, minimum=10, maximum=100)
    max_viewers: int = doc("Streams served at once; more viewers get 503 (busy). Each one costs a thread and "
                           "a JPEG send per frame.", 8, minimum=1, maximum=64)
    token: str = doc("Access token: when set, every request needs ?token=... (or the header Authorization: "
                     "Bearer ...). Set one before binding 0.0.0.0; plain HTTP is for a trusted network only.", "")


@dataclass(frozen=True)
class DisplayConfig:
    type: DisplayType = doc("Where the overlay goes: drm (HDMI, no desktop), fbdev (/dev/fbN), window, "
                            "web (browser), record (video file or PNG frames), null (nothing).", "record")
    retry_seconds: float = doc("When the display fails, run headless and try it again after this long.", 5.0,
                               minimum=0.5, maximum=3600)
    record: RecordDisplayConfig = section(RecordDisplayConfig, "Settings used when type = \"record\".")
    drm: DrmDisplayConfig = section(DrmDisplayConfig, "Settings used when type = \"drm\".")
    fbdev: FbdevDisplayConfig = section(FbdevDisplayConfig, "Settings used when type = \"fbdev\".")
    window: WindowDisplayConfig = section(WindowDisplayConfig, "Settings used when type = \"window\".")
    web: WebDisplayConfig = section(WebDisplayConfig, "Settings used when type = \"web\".")


# -------------------------------------------------------------------------------------------------- counting
@dataclass(frozen=True)
class SquatCountingConfig:
    start_angle: float = doc("Knee angle (hip-knee-ankle, degrees) at or above which the person stands: the "
                             "start position.", 155.0, minimum=0.0, maximum=180.0)
    turn_angle: float = doc("Knee angle at or below which the squat is deep enough; coming back to "
                            "start_angle then counts one. Between the two angles the phase is kept. Angles "
                            "are measured in the picture: a camera in front sees the knee less bent than it "
                            "is (a thigh-parallel squat reads about 100-120); from the side, lower it.", 125.0,
                            minimum=0.0, maximum=180.0)


@dataclass(frozen=True)
class PushupCountingConfig:
    start_angle: float = doc("Elbow angle (shoulder-elbow-wrist, degrees) at or above which the arms are "
                             "straight: the start position.", 150.0, minimum=0.0, maximum=180.0)
    turn_angle: float = doc("Elbow angle at or below which the push-up is deep enough.", 110.0,
                            minimum=0.0, maximum=180.0)


@dataclass(frozen=True)
class ArmRaiseCountingConfig:
    start_angle: float = doc("Shoulder angle (hip-shoulder-elbow, degrees) at or below which the arms hang "
                             "down: the start position.", 45.0, minimum=0.0, maximum=180.0)
    turn_angle: float = doc("Shoulder angle at or above which the arms are raised high enough.", 135.0,
                            minimum=0.0, maximum=180.0)


CountingExercise = Literal["none", "squat", "pushup", "arm_raise"]


@dataclass(frozen=True)
class CountingConfig:
    exercise: CountingExercise = doc(
        "Repetitions to count: squat (knee angle hip-knee-ankle), pushup (elbow angle shoulder-elbow-wrist), "
        "arm_raise (shoulder angle hip-shoulder-elbow), none. A repetition counts when the person comes back to "
        "the start position. Reset the count with SIGUSR1 (systemctl kill -s USR1 pose-appliance) or the MQTT "
        "command \"reset_reps\".", "none")
    min_keypoint_score: float = doc("The three keypoints of a side's joint must all score at least this; a "
                                    "frame with no such side is skipped (the phase is kept).", 0.3,
                                    minimum=0.0, maximum=1.0)
    median_frames: int = doc("Median of the joint angle over this many recent frames (odd; 1 = none): one "
                             "wrong frame cannot cross a threshold.", 3, minimum=1, maximum=15)
    lost_seconds: float = doc("No measurable frame for this long forgets the phase (the count stays): the "
                              "next repetition needs the start position first.", 2.0, minimum=0.1,
                              maximum=60.0)
    hold_grace_seconds: float = doc("The hold timer (seconds in the current pose) keeps running through a "
                                    "lost label shorter than this; a different label restarts it at once.",
                                    1.0, minimum=0.0, maximum=60.0)
    squat: SquatCountingConfig = section(SquatCountingConfig, "Thresholds used when exercise = \"squat\".")
    pushup: PushupCountingConfig = section(PushupCountingConfig, "Thresholds used when exercise = \"pushup\".")
    arm_raise: ArmRaiseCountingConfig = section(ArmRaiseCountingConfig,
                                                "Thresholds used when exercise = \"arm_raise\".")


# ---------------------------------------------------------------------------------------------------- events
@dataclass(frozen=True)
class MqttEventsConfig:
    host: str = doc("MQTT broker host name or address.", "localhost")
    port: int = doc("Broker TCP port (1883 plain, 8883 usually with TLS).", 1883, minimum=1, maximum=65535)
    username: str = doc("User name for the broker; empty = anonymous.", "")
    password_file: str = doc("File whose first line is the password (keeps it out of this file; make it "
                             "readable by the service only). Empty = no password.", "")
    tls: bool = doc("Connect with TLS, verifying the broker against the system's CA certificates.", False)
    device: str = doc("This appliance's name in topics and in Home Assistant (letters, digits, _ and -). "
                      "Empty = the host name.", "")
    topic_prefix: str = doc("Topics are <topic_prefix>/<device>/availability, /state, /event and /command.",
                            "pose-appliance")
    discovery_prefix: str = doc("Home Assistant MQTT discovery prefix; \"\" = no discovery messages.",
                                "homeassistant")


@dataclass(frozen=True)
class EventsConfig:
    type: Literal["none", "mqtt"] = doc("Where pose, hold and repetition events go: none, or mqtt (a broker, "
                                        "e.g. for Home Assistant). Publishing never slows the pipeline.",
                                        "none")
    mqtt: MqttEventsConfig = section(MqttEventsConfig, "Settings used when type = \"mqtt\".")


# --------------------------------------------------------------------------------------------------- service
LogLevel = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True)
class ServiceConfig:
    models_dir: str = doc("Where fetched models live. Empty = $POSE_APPLIANCE_MODELS, else "
                          f"{USER_MODELS_DIR}.", "")
    watch_config: bool = doc("Reload when this file changes on disk, once it has held still for a quarter of a "
                             "second (SIGHUP always reloads).", True)
    stats_interval: float = doc("Seconds between the periodic stats log lines.", 60.0, minimum=1.0)
    log_level: LogLevel = doc("Least important log level written.", "info")


@dataclass(frozen=True)
class Config:
    camera: CameraConfig = section(CameraConfig, "Where frames come from.")
    model: ModelConfig = section(ModelConfig, "The pose model and where it runs.")
    classifier: ClassifierConfig = section(ClassifierConfig, "Naming the pose.")
    overlay: OverlayConfig = section(OverlayConfig, "What is drawn over the image.")
    display: DisplayConfig = section(DisplayConfig, "Where the picture goes.")
    counting: CountingConfig = section(CountingConfig, "Hold timer and repetition counter.")
    events: EventsConfig = section(EventsConfig, "Pose, hold and repetition events for other systems (MQTT).")
    service: ServiceConfig = section(ServiceConfig, "Running as a service.")


# ------------------------------------------------------------------------------------------------ validation
MAX_LISTED = 5  # unknown keys named in one message; the rest are counted
MAX_CONFIG_BYTES = 1024 * 1024  # a full config is a few KB; more is a wrong file, not a config


def read_config_file(path: str | os.PathLike) -> dict:
    """Read TOML into a plain dict; only syntax and file errors here. Only a regular file is read: a FIFO or a
    device would block the reader (and with it the signal handling of the service)."""
    path = Path(path)
    text = _read_regular_file(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}",
                          "strings need quotes, tables look like [display.fbdev]") from None
    except RecursionError:
        raise ConfigError(str(path), "", "not valid for this appliance: values nested too deeply",
                          "no key takes nested lists or tables") from None


def _read_regular_file(path: Path) -> str:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on what was opened.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found",
                          "check the path; `pose-appliance check-config --example > FILE` writes a config with "
                          "every key documented") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "", "is a directory", "name the config file itself") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(str(path), "", f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(str(path), "", "is a directory", "name the config file itself")
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(str(path), "", "not a regular file (a FIFO, socket or device)",
                              "point it at a plain TOML file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(str(path), "", f"too big for a config file ({info.st_size} bytes)",
                              f"a config is a few KB; at most {MAX_CONFIG_BYTES} bytes are read")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(str(path), "", "too big for a config file",
                          f"a config is a few KB; at most {MAX_CONFIG_BYTES} bytes are read")
    try:
        # A byte order mark (Windows editors save UTF-8 with one) is no TOML; it says nothing here.
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "", f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                          "save the file as UTF-8") from None


def validate_config(data: dict, source: str = "<config>") -> Config:
    """Turn a dict (from TOML) into a Config, rejecting anything the schema does not know (every unknown key
    at once, so one edit fixes them all)."""
    unknown = _unknown_keys(Config, data, "")
    if len(unknown) == 1:
        raise ConfigError(source, unknown[0][0], "unknown key", unknown[0][1])
    if unknown:
        listed = "; ".join(f"{key}" + (f" ({hint})" if hint else "") for key, hint in unknown[:MAX_LISTED])
        more = f"; and {len(unknown) - MAX_LISTED} more" if len(unknown) > MAX_LISTED else ""
        raise ConfigError(source, "", f"{len(unknown)} unknown keys: {listed}{more}")
    return _build(Config, data, source, "")


def _unknown_keys(cls: type, data: Any, prefix: str) -> list[tuple[str, str]]:
    """(dotted key, hint) of every key in ``data`` and its tables that ``cls`` does not have."""
    if not isinstance(data, dict):
        return []  # _build reports a value that should be a table
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown: list[tuple[str, str]] = []
    for name, value in data.items():
        if name not in fields:
            unknown.append((_join(prefix, _key_text(name)), _suggest(name, fields, prefix)))
        elif isinstance(hints[name], type) and dataclasses.is_dataclass(hints[name]):
            unknown += _unknown_keys(hints[name], value, _join(prefix, name))
    return unknown


def load_config(path: str | os.PathLike, *, refuse_empty: bool = False) -> Config:
    """The validated config of the file. ``refuse_empty``: a file without a single setting (0 bytes, or only
    blank lines, comments and table headers) is an error instead of all defaults, as a reload wants: such a file
    is far more often a truncated or mistaken write than a wish to run the built-in defaults."""
    data = read_config_file(path)
    if refuse_empty and not _holds_a_setting(data):
        raise ConfigError(str(path), "", "holds no settings (it is empty, or only blank lines, comments and "
                          "table headers)",
                          "write the settings back; `pose-appliance check-config --example` prints every key "
                          "documented. To run on the built-in defaults, set at least one key")
    return validate_config(data, str(path))


def _holds_a_setting(table: dict) -> bool:
    """Whether a key anywhere in ``table`` or its tables has a value that is not a table."""
    return any(not isinstance(value, dict) or _holds_a_setting(value) for value in table.values())


def replace(config: Any, dotted: str, value: Any, source: str = "command line") -> Any:
    """A copy of config with one field changed, e.g. replace(cfg, "display.type", "null"); the value is checked
    against the schema like a value from the file (``source`` names where it came from)."""
    return _replace(config, dotted.split("."), value, source, dotted)


def _replace(node: Any, path: list[str], value: Any, source: str, dotted: str) -> Any:
    head, rest = path[0], path[1:]
    fields = {f.name: f for f in dataclasses.fields(node)}
    if head not in fields:
        raise ConfigError(source, dotted, "unknown key", _suggest(head, fields, dotted.rpartition(".")[0]))
    if rest:
        return dataclasses.replace(node, **{head: _replace(getattr(node, head), rest, value, source, dotted)})
    kind = typing.get_type_hints(type(node))[head]
    return dataclasses.replace(node, **{head: _check_value(kind, value, fields[head].metadata, source, dotted)})


def _build(cls: type, data: Any, source: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(source, prefix or "(top level)", f"expected a table, got {_describe(data)}",
                          f"write it as [{prefix}]" if prefix else "")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # unknown keys were reported before: validate_config
    values = {}
    for name, value in data.items():
        f, key = fields[name], _join(prefix, name)
        kind = hints[name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            values[name] = _build(kind, value, source, key)
        else:
            values[name] = _check_value(kind, value, f.metadata, source, key)
    return cls(**values)


def _check_value(kind: Any, value: Any, meta: Any, source: str, key: str) -> Any:
    if kind == AutoBool:
        if value == "auto":
            return value
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true, false or \"auto\", got {_describe(value)}",
                              "write true or false without quotes, or \"auto\" with them")
        return value
    choices: tuple = ()
    if typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        kind = type(choices[0])
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:
            high = meta.get("maximum")
            raise ConfigError(source, key, f"{shorten(str(value))} is too big for a number",
                              f"the maximum is {high}" if high is not None else "write a smaller number") from None
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(source, key, f"expected true or false, got {_describe(value)}",
                          "write true or false without quotes")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(source, key, f"expected a whole number, got {_describe(value)}",
                          _number_hint(value, int, "a whole number"))
    if kind is float and not isinstance(value, float):
        raise ConfigError(source, key, f"expected a number, got {_describe(value)}", _number_hint(value, float,
                                                                                                 "a number"))
    if kind is float and not math.isfinite(value):
        raise ConfigError(source, key, f"expected a finite number, got {value!r}", "write e.g. 0.5")
    if kind is str and not isinstance(value, str):
        raise ConfigError(source, key, f"expected a string, got {_describe(value)}", "put it in quotes")
    if choices and value not in choices:
        raise ConfigError(source, key, f"{shorten(repr(value))} is not one of {', '.join(map(repr, choices))}",
                          _closest(str(value), choices))
    low, high = meta.get("minimum"), meta.get("maximum")
    if low is not None and value < low:
        raise ConfigError(source, key, f"{value!r} is below the minimum {low}")
    if high is not None and value > high:
        raise ConfigError(source, key, f"{value!r} is above the maximum {high}")
    return value


def _number_hint(value: Any, kind: type, what: str) -> str:
    """"write 8080 without quotes" for "8080"; what to write instead for anything else."""
    if isinstance(value, str):
        try:
            number = kind(value.strip())
        except ValueError:
            number = None
        if number is not None and math.isfinite(number):
            return f"write {number} without quotes"
    return f"write {what}, without quotes"


def _key_text(name: str) -> str:
    """A key as a message shows it: bare like in the file, or quoted with escapes (a key may hold a newline)."""
    import json
    bare = name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
    return shorten(name if bare else json.dumps(name))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {shorten(repr(value))}"


def _closest(word: str, options: Any) -> str:
    import difflib
    match = difflib.get_close_matches(word, [str(o) for o in options], n=1)
    return f"did you mean {match[0]!r}?" if match else ""


def _suggest(name: str, fields: dict, prefix: str) -> str:
    hint = _closest(name, fields)
    return hint or f"known keys in [{prefix or 'top level'}]: {', '.join(fields)}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def backend_settings(section_config: Any) -> Any:
    """The sub-table of the chosen backend, e.g. config.display.fbdev when display.type == "fbdev"."""
    return getattr(section_config, section_config.type, None)


__all__ = [
    "Config", "CameraConfig", "ModelConfig", "ClassifierConfig", "OverlayConfig", "DisplayConfig",
    "ServiceConfig", "CountingConfig", "EventsConfig", "ConfigError", "read_config_file", "validate_config",
    "load_config", "replace", "backend_settings",
]
