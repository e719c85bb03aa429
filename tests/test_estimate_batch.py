"""`pose-appliance estimate` over a batch with bad members: every image gets its own line (an error object for
one that fails), the batch goes on, the exit status says whether any failed; tiny images work; arguments are
range-checked."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pose_appliance.cli import main


@pytest.fixture
def models_dir(tmp_path, lightning_int8):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "movenet_lightning_int8.tflite").symlink_to(lightning_int8)
    return folder


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]


def test_a_bad_image_gets_an_error_line_and_the_batch_goes_on(tmp_path, models_dir, shared, capsys):
    good = shared / "data/tf_examples_rpi_pose/image1.png"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    folder = tmp_path / "a_folder.jpg"
    folder.mkdir()
    missing = tmp_path / "missing.png"
    status = main(["estimate", str(broken), str(good), str(folder), str(missing), str(good), "--json",
                   "--models-dir", str(models_dir)])
    assert status == 1
    records = lines(capsys)
    assert [r["image"] for r in records] == [str(broken), str(good), str(folder), str(missing), str(good)]
    assert "cannot read this image" in records[0]["error"]
    assert "is a directory" in records[2]["error"] and "no such file" in records[3]["error"]
    for record in (records[1], records[4]):
        assert "error" not in record and len(record["keypoints"]) == 17 and record["score"] > 0.3


def test_all_good_images_exit_0_and_text_mode_names_failures(tmp_path, models_dir, shared, capsys):
    good = shared / "data/coral_test_data/squat.bmp"
    assert main(["estimate", str(good), "--models-dir", str(models_dir)]) == 0
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"")
    assert main(["estimate", str(broken), str(good), "--models-dir", str(models_dir)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith(f"{broken}: error: cannot read this image") and out[-1].startswith(f"{good}: score")


@pytest.mark.parametrize("height, width", [(1, 1), (1, 37), (29, 1), (2, 2), (1, 2000)])
def test_tiny_and_one_pixel_wide_images_are_estimated(tmp_path, models_dir, capsys, height, width):
    path = tmp_path / f"tiny_{height}x{width}.png"
    cv2.imwrite(str(path), np.full((height, width, 3), 120, np.uint8))
    assert main(["estimate", str(path), "--json", "--models-dir", str(models_dir)]) == 0
    record = lines(capsys)[0]
    assert (record["width"], record["height"]) == (width, height)
    assert "error" not in record
    if record["keypoints"] is not None:  # nobody is in a flat image; whatever the model says is finite pixels
        assert np.array(record["keypoints"]).shape == (17, 3) and np.isfinite(record["keypoints"]).all()


@pytest.mark.parametrize("passes", ["0", "-1", "11", "100000"])
def test_passes_out_of_range_is_a_clear_error(models_dir, shared, capsys, passes):
    good = shared / "data/coral_test_data/squat.bmp"
    assert main(["estimate", str(good), "--passes", passes, "--models-dir", str(models_dir)]) == 2
    assert "--passes must be 1 to 10" in capsys.readouterr().err


def test_passes_are_used(models_dir, shared, capsys):
    good = str(shared / "data/tf_examples_rpi_pose/image1.png")
    assert main(["estimate", good, "--json", "--passes", "1", "--models-dir", str(models_dir)]) == 0
    assert main(["estimate", good, "--json", "--passes", "3", "--models-dir", str(models_dir)]) == 0
    one, three = lines(capsys)
    assert one["keypoints"] != three["keypoints"]
