"""The `run` command end to end on real models and data: demo output, keypoint records, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose_appliance.cli import main


@pytest.fixture
def pose_video(shared) -> Path:
    return shared / "data/tfjs_pose_detection/pose_1.mp4"


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_demo_default_records_every_frame(tmp_path, models_dir, capsys, monkeypatch):
    """The built-in default config: demo video in, overlay video + keypoints out, FPS printed."""
    import cv2

    monkeypatch.chdir(tmp_path)
    status = main(["run", "--models-dir", str(models_dir), "--output", "out/overlay.mp4",
                   "--record-keypoints", "keypoints.jsonl"])
    assert status == 0
    summary = capsys.readouterr().out
    assert summary.startswith("120 frames in ") and "0 frames dropped (camera or file ahead of the pipeline)" in summary
    assert "frames/s through camera, model, overlay and display; the model alone runs" in summary

    records = read_records(tmp_path / "keypoints.jsonl")
    assert [r["frame"] for r in records] == list(range(120))
    first = records[0]
    assert set(first) >= {"frame", "t", "keypoints", "label", "label_score", "crop"}
    assert len(first["keypoints"]) == 17 and all(len(k) == 3 for k in first["keypoints"])
    # Keypoints are in pixels of the 576x576 frame, and tracking moved the crop off the full frame.
    xs = [k[0] for r in records for k in r["keypoints"]]
    assert min(xs) >= 0 and max(xs) <= 576 and max(xs) > 100
    assert any(r["crop"] != [0.0, 0.0, 1.0, 1.0] for r in records[1:])

    video = cv2.VideoCapture(str(tmp_path / "out/overlay.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 120
    ok, image = video.read()
    assert ok and image.shape == (576, 576, 3)


def test_a_photo_folder_summary_names_no_model_rate_it_did_not_time(tmp_path, models_dir, shared, capsys):
    """Stills run the model inside their own path, untimed: the summary leaves the rate out, not shows "-"."""
    folder = shared / "data/yoga_cg_subset/test"
    assert main(["run", "--models-dir", str(models_dir), "--source", str(folder), "--display", "null",
                 "--frames", "3"]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("3 frames in ") and "frames/s through camera, model, overlay and display)" in summary
    assert "model alone" not in summary and " - " not in summary


def test_unpaced_video_gives_the_same_keypoints_every_run(tmp_path, models_dir, shared):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    runs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        assert main(["run", "--models-dir", str(models_dir), "--source", str(video), "--display", "null",
                     "--frames", "40", "--record-keypoints", str(out)]) == 0
        runs.append([r["keypoints"] for r in read_records(out)])
    assert len(runs[0]) == 40 and runs[0] == runs[1]


@pytest.mark.parametrize("setup, words", [
    (lambda tmp, video: ("[display]\ntype = \"hdmi\"\n", []), ["display.type", "'hdmi'"]),
    (lambda tmp, video: ("[model]\nname = \"movenet_lightning_int8\"\npath = \"%s\"\n" % (tmp / "none.tflite"),
                         ["--source", str(video)]), ["none.tflite"]),
    (lambda tmp, video: (f"[model]\npath = \"{_garbage(tmp / 'bad.tflite')}\"\n", ["--source", str(video)]),
     ["bad.tflite"]),
    (lambda tmp, video: ("", ["--source", str(_garbage(tmp / "broken.mp4"))]), ["broken.mp4"]),
])
def test_bad_input_is_one_line_naming_the_problem(tmp_path, models_dir, pose_video, capsys, setup, words):
    text, extra = setup(tmp_path, pose_video)
    config = tmp_path / "config.toml"
    config.write_text(text)
    status = main(["run", "--config", str(config), "--models-dir", str(models_dir), "--display", "null",
                   "--frames", "3", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert status != 0
    last = err[-1]
    assert last.startswith("pose-appliance run: "), err
    assert all(w in last for w in words), last


def test_a_bad_display_on_the_command_line_is_one_line(tmp_path, capsys):
    assert main(["run", "--display", "hdmi", "--models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("pose-appliance run: command line: display.type: 'hdmi'")


def test_model_not_fetched_says_how_to_fetch(tmp_path, pose_video, capsys):
    empty = tmp_path / "models"
    empty.mkdir()
    status = main(["run", "--models-dir", str(empty), "--source", str(pose_video), "--display", "null"])
    assert status == 2
    assert "models fetch" in capsys.readouterr().err


def _garbage(path: Path) -> Path:
    path.write_bytes(b"this is not what it claims to be\n" * 64)
    return path


def test_the_source_starts_while_the_classifier_loads(models_dir, pose_video, monkeypatch):
    """The camera (here the video) starts on a thread of its own as soon as the model is loaded, so opening it
    overlaps loading the classifier instead of following it."""
    import threading

    from pose_appliance import app, classify

    seen: dict[str, object] = {}
    classifier_loading = threading.Event()
    source_started = threading.Event()
    real_create_classifier, real_build_source = classify.create_classifier, app.build_source

    def create_classifier(*args, **kwargs):
        classifier_loading.set()
        seen["source started before the classifier was loaded"] = source_started.wait(5.0)
        return real_create_classifier(*args, **kwargs)

    def build_source(config, estimator):
        seen["source thread"] = threading.current_thread().name
        assert classifier_loading.wait(5.0)
        source = real_build_source(config, estimator)
        source_started.set()
        return source

    monkeypatch.setattr(classify, "create_classifier", create_classifier)
    monkeypatch.setattr(app, "build_source", build_source)
    assert main(["run", "--models-dir", str(models_dir), "--source", str(pose_video), "--display", "null",
                 "--frames", "5"]) == 0
    assert seen == {"source thread": "source start", "source started before the classifier was loaded": True}


def test_a_classifier_that_fails_to_load_stops_the_source_started_beside_it(models_dir, pose_video, monkeypatch,
                                                                             capsys):
    from pose_appliance import app, classify
    from pose_appliance.errors import UserError

    started = []
    real_build_source = app.build_source

    def build_source(config, estimator):
        source = real_build_source(config, estimator)
        started.append(source)
        return source

    def create_classifier(*args, **kwargs):
        raise UserError("classifier.name: broken on purpose")

    monkeypatch.setattr(app, "build_source", build_source)
    monkeypatch.setattr(classify, "create_classifier", create_classifier)
    assert main(["run", "--models-dir", str(models_dir), "--source", str(pose_video), "--display", "null",
                 "--frames", "5"]) == 2
    assert "classifier.name: broken on purpose" in capsys.readouterr().err
    assert len(started) == 1 and started[0]._capture is None  # VideoFileSource.stop() released the file
