"""The config schema: strict, documented, and the shipped example stays in sync with it."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from pose_appliance import config as cfg
from pose_appliance.cli import main
from pose_appliance.config_example import example_config

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_demo():
    config = cfg.Config()
    assert (config.camera.type, config.display.type, config.model.name) == (
        "video", "record", "movenet_lightning_int8")


def test_values_are_read_and_typed(tmp_path):
    path = write(tmp_path, '[model]\nthreads = 2\ndelegate = "edgetpu"\n[classifier]\nsmoothing = 1\n'
                           '[display]\ntype = "fbdev"\n[display.fbdev]\ndevice = "/dev/fb1"\n')
    config = cfg.load_config(path)
    assert config.model.threads == 2 and config.model.delegate == "edgetpu"
    assert config.classifier.smoothing == 1.0 and isinstance(config.classifier.smoothing, float)
    assert cfg.backend_settings(config.display).device == "/dev/fb1"


@pytest.mark.parametrize("text, key, words", [
    ('[displya]\ntype = "null"\n', "displya", "did you mean 'display'"),
    ('[display]\ntype = "fbdv"\n', "display.type", "did you mean 'fbdev'"),
    ('[model]\nthreads = "2"\n', "model.threads", "expected a whole number"),
    ('[model]\nthreads = -1\n', "model.threads", "below the minimum"),
    ('[model]\ntracking = "yes"\n', "model.tracking", "true or false"),
    ('[display.fbdev]\ndev = "/dev/fb0"\n', "display.fbdev.dev", "did you mean 'device'"),
    ('model = "thunder"\n', "model", "expected a table"),
])
def test_bad_values_name_file_key_and_fix(tmp_path, text, key, words):
    path = write(tmp_path, text)
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: ") and words in message
    assert "\n" not in message


def test_every_unknown_key_is_reported_at_once(tmp_path):
    path = write(tmp_path, '[camera]\nwidht = 640\nhieght = 480\n[display.fbdev]\nsysfs_root = "/sys"\n'
                           '[colour]\nred = 1\n')
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 4 unknown keys: camera.widht (did you mean 'width'?); "
                              "camera.hieght (did you mean 'height'?); display.fbdev.sysfs_root")
    assert "; colour (known keys in [top level]: camera, model, " in message and "\n" not in message


def test_toml_syntax_and_missing_file(tmp_path):
    with pytest.raises(cfg.ConfigError, match="not valid TOML"):
        cfg.load_config(write(tmp_path, "[model\n"))
    with pytest.raises(cfg.ConfigError, match="file not found"):
        cfg.load_config(tmp_path / "nope.toml")


def test_every_field_is_documented():
    def walk(cls):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            assert len(f.metadata.get("doc", "")) > 10, f"{cls.__name__}.{f.name} has no doc"
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name])
    walk(cfg.Config)


def test_shipped_example_is_generated_from_the_schema():
    shipped = (REPO / "pose_appliance/data/config.example.toml").read_text()
    assert shipped == example_config("pi"), "regenerate: pose-appliance check-config --example --preset pi"
    config = cfg.load_config(REPO / "pose_appliance/data/config.example.toml")
    assert config.camera.type == "picamera2" and config.display.type == "drm"


def test_demo_example_round_trips_to_the_defaults(tmp_path):
    assert cfg.load_config(write(tmp_path, example_config("demo"))) == cfg.Config()


def test_check_config_command(tmp_path, capsys):
    assert main(["check-config", str(write(tmp_path, '[display]\ntype = "web"\n'))]) == 0
    assert "display web" in capsys.readouterr().out
    assert main(["check-config", str(write(tmp_path, '[display]\ntype = "webb"\n'))]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "display.type" in err and "did you mean 'web'" in err


def test_replace_changes_one_field():
    config = cfg.replace(cfg.Config(), "display.record.path", "x.mp4")
    assert config.display.record.path == "x.mp4" and config.display.type == "record"


@pytest.mark.parametrize("dotted, value, words", [
    ("display.type", "hdmi", "command line: display.type: 'hdmi' is not one of"),
    ("model.threads", -2, "command line: model.threads: -2 is below the minimum 0"),
    ("display.typ", "null", "command line: display.typ: unknown key (did you mean 'type'?)"),
])
def test_replace_checks_the_value_like_the_file(dotted, value, words):
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.replace(cfg.Config(), dotted, value)
    assert str(caught.value).startswith(words)

