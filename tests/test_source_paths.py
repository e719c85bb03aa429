"""Paths that are not what they should be (a directory, a FIFO, a very long name) get one short line naming the key
and the problem, and never block the reader."""

from __future__ import annotations

import os

import pytest

from pose_appliance.camera.frame_source import SourceError
from pose_appliance.camera.image_folder_source import ImageFolderSource
from pose_appliance.camera.video_file_source import VideoFileSource
from pose_appliance.cli import main


def test_a_directory_as_video_path_says_so(tmp_path):
    with pytest.raises(SourceError, match=r"camera\.video\.path: .* is a directory"):
        VideoFileSource(tmp_path).start()


def test_a_fifo_as_video_path_is_not_opened(tmp_path):
    fifo = tmp_path / "video.mp4"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match="not a regular file"):
        VideoFileSource(fifo).start()


@pytest.mark.parametrize("make", [VideoFileSource, ImageFolderSource])
def test_very_long_paths_are_cut_in_the_message(tmp_path, make):
    long_path = tmp_path / ("x" * 5000) / "clip.mp4"
    with pytest.raises(SourceError) as caught:
        make(long_path).start()
    message = str(caught.value)
    assert len(message) < 250 and "..." in message and message.startswith("camera.")


def test_run_with_a_directory_as_video_is_one_line(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[camera]\ntype = "video"\n[camera.video]\npath = "{tmp_path}"\n'
                      f'[display]\ntype = "null"\n[classifier]\nenabled = false\n'
                      f'[model]\npath = "/nonexistent-model-is-not-reached.tflite"\n')
    # No classifier: the test must not depend on the default models dir.
    # The source is opened after the model: give a real one so the video path is what fails.
    from conftest import SHARED

    config.write_text(config.read_text().replace("/nonexistent-model-is-not-reached.tflite", str(
        SHARED / "models/movenet/lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite")))
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("pose-appliance run: camera.video.path:") and "is a directory" in err


def test_a_fifo_as_labels_file_is_refused_without_blocking(tmp_path):
    from pose_appliance.classify.pose_classifier import ClassifierError, read_labels

    fifo = tmp_path / "labels.txt"
    os.mkfifo(fifo)
    with pytest.raises(ClassifierError, match="not a regular file"):
        read_labels(fifo)


@pytest.mark.parametrize("name", ["usb-046d_HD_Pro_Webcam_C920-video-index0", "video0"])
def test_a_stable_device_name_as_source_is_a_camera_by_the_name_given(tmp_path, name):
    """/dev/v4l/by-id/usb-...-video-index0 is a symlink to /dev/videoN (which N changes across boots); a
    symlink to another character device stands in for it here. It is a camera, kept under the name given."""
    from pose_appliance.commands.run import source_override

    link = tmp_path / "v4l/by-id" / name
    link.parent.mkdir(parents=True)
    link.symlink_to("/dev/null")
    assert source_override(str(link)) == [("camera.type", "opencv"), ("camera.opencv.device", str(link))]
    unplugged = "/dev/v4l/by-id/usb-unplugged-video-index0"  # not there now: still a camera, not a missing file
    assert source_override(unplugged) == [("camera.type", "opencv"), ("camera.opencv.device", unplugged)]


def test_run_with_a_device_symlink_as_source_opens_it_as_a_camera(tmp_path, models_dir, capsys):
    link = tmp_path / "usb-046d_HD_Pro_Webcam_C920-video-index0"
    link.symlink_to("/dev/null")
    assert main(["run", "--models-dir", str(models_dir), "--display", "null", "--source", str(link)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"pose-appliance run: camera.opencv.device: cannot open {link}"), err


@pytest.mark.skipif(not os.access("/dev/shm", os.W_OK), reason="needs a writable /dev/shm")
def test_a_file_or_folder_under_dev_shm_is_a_video_or_an_image_folder_not_a_camera():
    """/dev/shm is tmpfs: a clip or a photo folder put there is read as one, only devices are cameras."""
    import tempfile

    from pose_appliance.commands.run import source_override

    with tempfile.TemporaryDirectory(dir="/dev/shm") as folder:
        clip = os.path.join(folder, "clip.mp4")
        open(clip, "wb").close()
        assert source_override(clip) == [("camera.type", "video"), ("camera.video.path", clip)]
        assert source_override(folder) == [("camera.type", "images"), ("camera.images.path", folder)]
        assert source_override("/dev/video0")[0] == ("camera.type", "opencv")
        assert source_override("/dev/null")[0] == ("camera.type", "opencv")  # a character device
