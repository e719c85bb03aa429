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


def test_check_config_command(tmp_path, capsys, models_dir):
    service = f'[service]\nmodels_dir = "{models_dir}"\n'
    assert main(["check-config", str(write(tmp_path, '[display]\ntype = "web"\n' + service))]) == 0
    out = capsys.readouterr()
    assert "display web" in out.out and out.err == ""
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



def test_check_config_knows_the_manifest_and_what_is_fetched(tmp_path, capsys, models_dir):
    """What run would refuse, check-config (the unit's ExecStartPre) refuses first, saying how to fix it."""
    service = f'[service]\nmodels_dir = "{models_dir}"\n'
    assert main(["check-config", str(write(tmp_path, '[model]\nname = "movenet_thunder"\n' + service))]) == 2
    err = capsys.readouterr().err
    assert "model.name: 'movenet_thunder' is not a pose model of the manifest (did you mean " \
           "'movenet_thunder_int8'?" in err and "movenet_lightning_int8_edgetpu" not in err
    assert main(["check-config", str(write(tmp_path, '[classifier]\nname = "yoga_labels"\n' + service))]) == 2
    assert "classifier.name: 'yoga_labels' is a labels entry of the manifest, not a classifier model" in \
        capsys.readouterr().err
    assert main(["check-config", str(write(tmp_path, '[model]\nname = "movenet_lightning_int8_edgetpu"\n'
                                                     + service))]) == 2
    assert "model.name: 'movenet_lightning_int8_edgetpu' is the Edge TPU build of 'movenet_lightning_int8' (use " \
           "model.name = \"movenet_lightning_int8\" with model.delegate = \"edgetpu\" (or \"auto\"); the Edge TPU " \
           "build is picked automatically)" in capsys.readouterr().err
    # A known model not fetched yet: valid (the installer checks before it fetches), and said with the command.
    assert main(["check-config", str(write(tmp_path, '[model]\nname = "movenet_thunder_int8"\n' + service))]) == 0
    assert capsys.readouterr().err.strip().endswith(
        f"not fetched into {models_dir} yet: movenet_thunder_int8; run will refuse to start until `pose-appliance "
        f"models fetch --models-dir {models_dir} movenet_thunder_int8` fetched them")
    # A model the config does not use is not asked for: no classifier, a video of one's own.
    own = '[classifier]\nenabled = false\nname = "nothing"\n[camera.video]\npath = "x.mp4"\n'
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["check-config", str(write(tmp_path, own + f'[service]\nmodels_dir = "{empty}"\n'))]) == 0
    assert f"yet: movenet_lightning_int8; run will refuse to start until `pose-appliance models fetch --models-dir " \
           f"{empty} movenet_lightning_int8`" in capsys.readouterr().err


def test_hints_say_what_to_write(tmp_path, capsys):
    assert main(["check-config", "/nonexist.toml"]) == 2
    err = capsys.readouterr().err
    assert "--config" not in err and "config.example.toml" not in err
    assert "check-config --example > FILE" in err
    with pytest.raises(cfg.ConfigError, match=r"display.web.port: expected a whole number, got str '8081' "
                                              r"\(write 8081 without quotes\)"):
        cfg.validate_config({"display": {"web": {"port": "8081"}}})
    with pytest.raises(cfg.ConfigError, match=r"expected a number, got str 'half' \(write a number, without "
                                              r"quotes\)"):
        cfg.validate_config({"classifier": {"min_label_score": "half"}})
