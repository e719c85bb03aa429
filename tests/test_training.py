"""train-classifier: CSV and image datasets to a TFLite model the appliance loads, and bad layouts.

Training runs in a child process (the real ``pose-appliance train-classifier`` command, or a short script):
TensorFlow and an SDL X11 window (tests/test_display_window.py) crash with SIGSEGV when they share a process,
in either order. Bad-layout checks run in-process: they stop before TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pose_appliance.classify import PoseClassifier, create_classifier
from pose_appliance.classify.keypoint_csv import read_keypoint_csv
from pose_appliance.commands import train_classifier
from pose_appliance.config import ClassifierConfig
from pose_appliance.errors import UserError
from pose_appliance.types import Pose

needs_tensorflow = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                      reason="TensorFlow is not installed (pip install 'pose-appliance[train]')")


def train_command(*argv) -> subprocess.CompletedProcess:
    """``pose-appliance train-classifier ARGV`` in a child process; fails the test on a non-zero exit."""
    done = subprocess.run([sys.executable, "-m", "pose_appliance", "train-classifier", *map(str, argv)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def run_python(code: str) -> dict:
    """Run ``code`` in a child interpreter; it prints one JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_classifier.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


@pytest.fixture(scope="module")
def yoga_csv_model(tmp_path_factory, shared):
    out = tmp_path_factory.mktemp("yoga_csv_model")
    csvs = shared / "data/yoga_poses_csv"
    train_command(csvs / "yoga_train_data.csv", "--out", out, "--test", csvs / "yoga_test_data.csv", "--epochs", 60,
                  "--int8")
    return out


@needs_tensorflow
def test_trained_on_the_tutorial_csv_it_reaches_95_percent_on_the_test_csv(yoga_csv_model, shared):
    report = json.loads((yoga_csv_model / "report.json").read_text())
    assert report["classes"] == ["chair", "cobra", "dog", "tree", "warrior"]
    assert sum(report["samples"]["test"].values()) == 495
    assert report["models"]["model.tflite"]["accuracy"] >= 0.95
    assert report["models"]["model_int8.tflite"]["accuracy"] >= 0.95
    assert report["models"]["model_int8.tflite"]["size_bytes"] < report["models"]["model.tflite"]["size_bytes"]
    # The exported file, loaded the way the appliance loads it, gives the reported accuracy.
    config = ClassifierConfig(path=str(yoga_csv_model / "model.tflite"))
    classifier = create_classifier(config, yoga_csv_model)
    test = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_test_data.csv")
    predicted = np.array([np.argmax(classifier.classify(Pose(k))) for k in test.keypoints])
    assert float((predicted == test.targets).mean()) == pytest.approx(report["models"]["model.tflite"]["accuracy"],
                                                                      abs=1e-3)
    for name in ("report.md", "confusion.png", "labels.txt"):
        assert (yoga_csv_model / name).stat().st_size > 0
    assert "precision" in (yoga_csv_model / "report.md").read_text()
    per_class = report["models"]["model.tflite"]["per_class"]
    assert sum(v["support"] for v in per_class.values()) == 495
    matrix = np.array(report["models"]["model.tflite"]["confusion"])
    assert matrix.shape == (5, 5) and matrix.sum() == 495


@needs_tensorflow
def test_the_best_epoch_weights_are_the_ones_kept(shared):
    # A validation set with shuffled labels makes validation accuracy wander, so the last epoch is not the best.
    result = run_python(f"""
        import json, numpy as np
        from pose_appliance import training
        from pose_appliance.classify.features import normalized_landmarks
        from pose_appliance.classify.keypoint_csv import read_keypoint_csv
        samples = read_keypoint_csv("{shared / 'data/yoga_poses_csv/yoga_train_data.csv'}")
        rng = np.random.default_rng(3)
        order = rng.permutation(len(samples))
        train, validation = samples.subset(order[:400]), samples.subset(order[400:480])
        validation.targets = rng.permutation(validation.targets)
        tf = training.import_tensorflow()
        model, fit = training.train_model(tf, train, validation, epochs=30, seed=0)
        _, accuracy = model.evaluate(normalized_landmarks(validation.keypoints), validation.targets, verbose=0)
        print(json.dumps({{"fit": fit, "restored_accuracy": accuracy}}))
    """)
    history = result["fit"]["val_accuracy_history"]
    assert history[-1] < max(history), "test needs a run whose last epoch is not its best"
    assert result["restored_accuracy"] == pytest.approx(max(history), abs=1e-3)
    assert result["fit"]["best_val_accuracy"] == pytest.approx(max(history), abs=1e-3)
    assert history[result["fit"]["best_epoch"] - 1] == pytest.approx(max(history))


def make_image_tree(root, layout: dict[str, list[str]]):
    import cv2

    for class_name, files in layout.items():
        (root / class_name).mkdir(parents=True, exist_ok=True)
        for name in files:
            path = root / class_name / name
            if name.endswith(".broken.jpg") or not name.endswith(".jpg"):
                path.write_bytes(b"this is not a JPEG")
            else:
                cv2.imwrite(str(path), np.full((32, 32, 3), 128, np.uint8))
    return root


@pytest.mark.parametrize("layout, message", [
    ({"tree": ["1.jpg", "2.jpg"]}, r"only one class \(tree\); a classifier needs at least two class folders"),
    ({"tree": ["1.jpg"], "dog": []}, r"dog: empty class folder"),
    ({"tree": ["1.jpg"], "dog": ["notes.txt"]}, r"dog: empty class folder \(no .jpg/.jpeg/.png/.bmp images\)"),
    ({"a": ["x.broken.jpg"], "b": ["1.jpg"]}, r"x.broken.jpg: cannot read this image"),
    ({}, r"no class folders; expected .*/<class>/\*.jpg"),
])
def test_bad_layouts_give_one_clear_message(tmp_path, layout, message):
    dataset = make_image_tree(tmp_path / "photos", layout)
    dataset.mkdir(exist_ok=True)
    with pytest.raises(UserError, match=message) as error:
        train_classifier.run(parse(dataset, "--out", tmp_path / "out", "--models-dir", tmp_path / "no-models"))
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_missing_dataset_and_loose_images(tmp_path):
    with pytest.raises(UserError, match=r"nowhere: no such folder or file"):
        train_classifier.run(parse(tmp_path / "nowhere", "--out", tmp_path / "out"))
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "a.jpg").write_bytes(b"")
    with pytest.raises(UserError, match=r"images must be in one sub-folder per class"):
        train_classifier.run(parse(loose, "--out", tmp_path / "out"))


def test_one_class_csv_and_bad_options(tmp_path, shared):
    lines = (shared / "data/yoga_poses_csv/yoga_test_data.csv").read_text().splitlines()
    (tmp_path / "chairs.csv").write_text("\n".join(line for line in lines[:20]) + "\n")
    with pytest.raises(UserError, match=r"chairs.csv: only one class \(chair\)"):
        train_classifier.run(parse(tmp_path / "chairs.csv", "--out", tmp_path / "out"))
    with pytest.raises(UserError, match=r"--val-split must be between 0 and 0.9"):
        train_classifier.run(parse(tmp_path / "chairs.csv", "--out", tmp_path / "out", "--val-split", 1.5))


@needs_tensorflow
def test_trained_end_to_end_from_images_it_names_a_real_photo(tmp_path, shared, models_dir):
    import cv2

    from pose_appliance.config import ModelConfig
    from pose_appliance.inference import create_estimator

    dataset, out = shared / "data/yoga_cg_subset/test", tmp_path / "out"
    stderr = train_command(dataset, "--out", out, "--models-dir", models_dir, "--epochs", 100,
                           "--keypoints-csv", out / "keypoints.csv").stderr
    assert "50/50" in stderr and "skipped" in stderr
    report = json.loads((out / "report.json").read_text())
    assert "movenet" in report["keypoints_from"]
    used = sum(sum(split.values()) for split in report["samples"].values())
    assert report["skipped"] and used + len(report["skipped"]) == 50
    for item in report["skipped"]:
        assert (dataset / item["file"]).is_file() and item["file"] in (out / "report.md").read_text()

    # A real photo (not one of the CGI training images) through the appliance's own path.
    estimator = create_estimator(ModelConfig(name="movenet_lightning_int8", delegate="cpu"), models_dir)
    image = cv2.cvtColor(cv2.imread(str(shared / "data/tf_examples_rpi_pose/image3.jpeg")), cv2.COLOR_BGR2RGB)
    classifier = PoseClassifier(out / "model.tflite", out / "labels.txt")
    assert classifier.input_width == 34
    scores = classifier.classify(estimator.estimate_still(image))
    assert classifier.labels[int(np.argmax(scores))] == "tree", scores

    # The saved keypoints train again without pose estimation (no models dir at all).
    saved = read_keypoint_csv(out / "keypoints.csv")
    assert len(saved) == used and saved.classes == ["chair", "cobra", "dog", "tree", "warrior"]
    again = tmp_path / "again"
    train_command(out / "keypoints.csv", "--out", again, "--models-dir", tmp_path / "none", "--epochs", 3)
    assert json.loads((again / "report.json").read_text())["keypoints_from"] == "CSV keypoints.csv"


def test_the_command_prints_a_bad_layout_as_one_line_and_exits_2(tmp_path):
    dataset = make_image_tree(tmp_path / "photos", {"tree": ["1.jpg"], "dog": []})
    done = subprocess.run([sys.executable, "-m", "pose_appliance", "train-classifier", str(dataset), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"pose-appliance train-classifier: {dataset / 'dog'}: empty class folder (no .jpg/.jpeg/.png/.bmp images); "
        "add images or remove the folder"]


def test_an_existing_model_is_not_replaced_without_force(tmp_path, shared):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.tflite").write_bytes(b"the model the appliance runs")
    with pytest.raises(UserError, match=r"already exists.*--force"):
        train_classifier.run(parse(shared / "data/yoga_poses_csv/yoga_train_data.csv", "--out", out))
    assert (out / "model.tflite").read_bytes() == b"the model the appliance runs"
