"""create_estimator (manifest family, fetched files, path override, Edge TPU build) and `pose-appliance estimate`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pose_appliance.cli import main
from pose_appliance.config import ModelConfig
from pose_appliance.inference import ModelLoadError, MoveNetEstimator, create_estimator


@pytest.fixture
def models_dir(tmp_path, lightning_int8, shared):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "movenet_lightning_int8.tflite").symlink_to(lightning_int8)
    return folder


def test_create_estimator_from_fetched_models(models_dir):
    estimator = create_estimator(ModelConfig(delegate="cpu", threads=1), models_dir)
    assert isinstance(estimator, MoveNetEstimator)
    assert (estimator.name, estimator.delegate, estimator.input_size) == ("movenet_lightning_int8", "cpu",
                                                                        (192, 192))


def test_create_estimator_edgetpu_build_missing_or_failing(models_dir, shared):
    def failing_loader(library, options=None):
        raise ValueError("Failed to load delegate from libedgetpu.so.1")

    config = ModelConfig(delegate="edgetpu", threads=1)
    estimator = create_estimator(config, models_dir, load_delegate=failing_loader)
    assert estimator.delegate == "cpu"
    assert "movenet_lightning_int8_edgetpu.tflite is not in" in estimator.fallback_reason
    (models_dir / "movenet_lightning_int8_edgetpu.tflite").symlink_to(
        shared / "models/coral/movenet_single_pose_lightning_ptq_edgetpu.tflite")
    estimator = create_estimator(config, models_dir, load_delegate=failing_loader)
    assert estimator.delegate == "cpu" and "Failed to load delegate" in estimator.fallback_reason


def test_create_estimator_errors(tmp_path, models_dir, lightning_int8):
    with pytest.raises(ModelLoadError) as info:
        create_estimator(ModelConfig(delegate="cpu"), tmp_path)
    assert f"pose-appliance models fetch --models-dir {tmp_path} movenet_lightning_int8" in str(info.value)
    with pytest.raises(ModelLoadError, match="not a pose model"):
        create_estimator(ModelConfig(name="yoga_classifier", delegate="cpu"), models_dir)
    # The Edge TPU build is loaded through its CPU model; named itself it would run on the CPU, and fail there.
    for delegate in ("edgetpu", "auto", "cpu"):
        with pytest.raises(ModelLoadError) as info:
            create_estimator(ModelConfig(name="movenet_lightning_int8_edgetpu", delegate=delegate), models_dir)
        assert str(info.value) == (
            "model.name = 'movenet_lightning_int8_edgetpu' is the Edge TPU build of 'movenet_lightning_int8': use "
            "model.name = \"movenet_lightning_int8\" with model.delegate = \"edgetpu\" (or \"auto\"); the Edge TPU "
            "build is picked automatically")
    estimator = create_estimator(ModelConfig(path=str(lightning_int8), delegate="cpu", threads=1), tmp_path)
    assert estimator.model.path == lightning_int8


def test_estimate_command_json(models_dir, shared, capsys):
    folder = shared / "data/tf_examples_rpi_pose"
    status = main(["estimate", str(folder / "image1.png"), str(folder / "image2.jpeg"), "--json",
                   "--models-dir", str(models_dir)])
    assert status == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert (records[0]["width"], records[0]["height"]) == (384, 640)
    assert records[1]["image"].endswith("image2.jpeg")
    truth = np.loadtxt(folder / "pose_landmark_truth.csv", delimiter=",", skiprows=1)
    for record, expected in zip(records, truth):
        keypoints = np.array(record["keypoints"])
        assert keypoints.shape == (17, 3) and 0 < record["score"] <= 1
        assert np.abs(keypoints[:, :2] - expected.reshape(17, 2)).max() <= 21


def test_estimate_command_config_model_path(tmp_path, lightning_int8, shared, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[model]\npath = "{lightning_int8}"\ndelegate = "cpu"\n')
    image = shared / "data/coral_test_data/squat.bmp"
    assert main(["estimate", str(image), "--json", "--config", str(config), "--models-dir", str(tmp_path)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["width"], record["height"]) == (500, 610) and len(record["keypoints"]) == 17


def test_estimate_command_unreadable_image(models_dir, tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    status = main(["estimate", str(broken), "--json", "--models-dir", str(models_dir)])
    assert status == 1
    record = json.loads(capsys.readouterr().out)
    assert record["image"] == str(broken) and record["error"].startswith("cannot read this image")


def test_estimate_command_missing_model(tmp_path, shared, capsys):
    image = shared / "data/coral_test_data/squat.bmp"
    assert main(["estimate", str(image), "--json", "--models-dir", str(tmp_path)]) == 2
    assert f"pose-appliance models fetch --models-dir {tmp_path} movenet_lightning_int8" in capsys.readouterr().err
