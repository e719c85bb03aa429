"""train-classifier: CSV and image datasets to a TFLite model the appliance loads, and bad layouts.

Training runs in a child process (the real ``pose-appliance train-classifier`` command, or a short script):
TensorFlow and an SDL X11 window (tests/test_display_window.py) crash with SIGSEGV when they share a process,
in either order. Bad-layout checks run in-process: they stop before TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pose_appliance.classify import create_classifier
from pose_appliance.classify.keypoint_csv import read_keypoint_csv
from pose_appliance.commands import train_classifier
from pose_appliance.config import ClassifierConfig
from pose_appliance.errors import UserError
from pose_appliance.training.dataset import appliance_estimator, find_images, load_samples
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
    for name in ("report.md", "confusion.png", "training.png", "labels.txt", "reference.npz", "model.json"):
        assert (yoga_csv_model / name).stat().st_size > 0
    markdown = (yoga_csv_model / "report.md").read_text()
    assert "precision" in markdown and "![training](training.png)" in markdown and "Caveat" not in markdown
    assert "also learnt as its mirror image" in markdown and report["training"]["mirror_images"] is True
    assert report["models"]["model.tflite"]["caveat"] is None  # 495 test samples are enough to mean something
    low, high = report["models"]["model.tflite"]["accuracy_95"]
    assert low < report["models"]["model.tflite"]["accuracy"] < high and high - low < 0.06
    # The whole decision on the test rows: nearly all named, none wrong.
    open_set = report["open_set"]
    assert open_set["named_wrong"] <= 2 and open_set["named_right"] >= 0.9 * open_set["samples"]
    sidecar = json.loads((yoga_csv_model / "model.json").read_text())
    assert sidecar["pose_model"] is None and sidecar["keypoints_from"] == "CSV yoga_train_data.csv"
    assert sidecar["feature_version"] == 1 and sidecar["classes"] == report["classes"]
    per_class = report["models"]["model.tflite"]["per_class"]
    assert sum(v["support"] for v in per_class.values()) == 495
    matrix = np.array(report["models"]["model.tflite"]["confusion"])
    assert matrix.shape == (5, 5) and matrix.sum() == 495


@needs_tensorflow
def test_a_pose_and_its_mirror_image_get_the_same_name(yoga_csv_model, shared):
    """The tutorial's people mostly face one way; a user may face the other. Without mirror images in training,
    71-73 % of the mirrored test poses were named right."""
    from pose_appliance.classify.reference import mirrored

    classifier = create_classifier(ClassifierConfig(path=str(yoga_csv_model / "model.tflite")), yoga_csv_model)
    test = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_test_data.csv")
    as_given = np.array([np.argmax(classifier.classify(Pose(k))) for k in test.keypoints])
    in_mirror = np.array([np.argmax(classifier.classify(Pose(k))) for k in mirrored(test.keypoints)])
    assert float((in_mirror == test.targets).mean()) >= 0.95
    assert float((in_mirror == as_given).mean()) >= 0.97


@needs_tensorflow
def test_the_best_epoch_weights_are_the_ones_kept(shared):
    # A validation set with shuffled labels makes validation accuracy wander, so the last epoch is not the best.
    result = run_python(f"""
        import json, numpy as np
        from pose_appliance import training
        from pose_appliance.classify.keypoint_csv import read_keypoint_csv
        from pose_appliance.training.model import with_mirror_images
        samples = read_keypoint_csv("{shared / 'data/yoga_poses_csv/yoga_train_data.csv'}")
        rng = np.random.default_rng(3)
        order = rng.permutation(len(samples))
        train, validation = samples.subset(order[:400]), samples.subset(order[400:480])
        validation.targets = rng.permutation(validation.targets)
        tf = training.import_tensorflow()
        model, fit = training.train_model(tf, train, validation, epochs=30, seed=0)
        _, accuracy = model.evaluate(*with_mirror_images(validation), verbose=0)  # validated as trained
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


def test_hidden_files_in_class_folders_are_left_out_like_hidden_folders(tmp_path):
    """macOS leaves an AppleDouble "._<name>" beside every file it copies to a USB stick or share; the user never
    sees it, so training must not stop at it."""
    dataset = make_image_tree(tmp_path / "photos", {"tree": ["1.jpg", "2.jpg"], "dog": ["3.jpg"],
                                                    ".Trashes": ["4.jpg"]})
    (dataset / "tree" / "._1.jpg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (dataset / "dog" / ".hidden.png").write_bytes(b"")
    assert find_images(dataset) == {"dog": [dataset / "dog/3.jpg"],
                                    "tree": [dataset / "tree/1.jpg", dataset / "tree/2.jpg"]}


def test_an_image_that_cannot_be_decoded_is_skipped_with_the_others(tmp_path, shared, models_dir, capsys):
    """A PNG cut short passes the up-front format check (its header is whole) and fails to decode only when its
    turn comes: it is skipped and listed like an image without a whole body, not the end of the run."""
    import cv2

    dataset = tmp_path / "photos"
    for name in ("chair", "tree"):
        (dataset / name).mkdir(parents=True)
        for image in sorted((shared / "data/yoga_cg_subset/test" / name).glob("*.jpg"))[:3]:
            shutil.copy(image, dataset / name / image.name)
    whole = cv2.imencode(".png", cv2.imread(str(dataset / "tree/guy3_tree085.jpg")))[1].tobytes()
    for cut in ("a_cut.png", "z_cut.png"):
        (dataset / "tree" / cut).write_bytes(whole[:len(whole) // 3])
    loaded = load_samples(dataset, lambda: appliance_estimator(str(models_dir), "movenet_lightning_int8"))
    assert loaded.skipped == [("tree/a_cut.png", "cannot decode this image (damaged or cut short)"),
                              ("tree/z_cut.png", "cannot decode this image (damaged or cut short)")]
    assert len(loaded.samples) == 6
    assert "tree/z_cut.png: cannot decode this image" in capsys.readouterr().err


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
    done = train_command(dataset, "--out", out, "--models-dir", models_dir, "--epochs", 100,
                         "--keypoints-csv", out / "keypoints.csv")
    assert "50/50" in done.stderr
    report = json.loads((out / "report.json").read_text())
    # The appliance's own pose model (model.name), not the most accurate one fetched.
    assert report["keypoints_from"] == report["pose_model"] == "movenet_lightning_int8"
    assert json.loads((out / "model.json").read_text())["pose_model"] == "movenet_lightning_int8"
    used = sum(sum(split.values()) for split in report["samples"].values())
    # The appliance's view check, not "every keypoint >= 0.1" (which skipped 9 of these 50).
    assert used + len(report["skipped"]) == 50 and len(report["skipped"]) <= 2
    for item in report["skipped"]:
        assert (dataset / item["file"]).is_file() and item["reason"].startswith("not enough of the body in view")
    # 10 test images: the figure comes with its caveat, in the report and on the terminal.
    assert sum(report["samples"]["test"].values()) == 10
    assert "only 10 test samples" in report["models"]["model.tflite"]["caveat"]
    assert "Caveat:** only 10 test samples" in (out / "report.md").read_text() and "caveat: only 10" in done.stdout

    # A real photo (not one of the CGI training images) through the appliance's own path.
    estimator = create_estimator(ModelConfig(name="movenet_lightning_int8", delegate="cpu"), models_dir)
    image = cv2.cvtColor(cv2.imread(str(shared / "data/tf_examples_rpi_pose/image3.jpeg")), cv2.COLOR_BGR2RGB)
    classifier = create_classifier(ClassifierConfig(path=str(out / "model.tflite")), models_dir)
    assert classifier.input_width == 34 and classifier.reference is not None
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


@pytest.mark.parametrize("model", ["model.tflite", "model_int8.tflite"])
def test_an_existing_model_is_not_replaced_without_force(tmp_path, shared, model):
    out = tmp_path / "out"
    out.mkdir()
    (out / model).write_bytes(b"the model the appliance runs")
    with pytest.raises(UserError, match=rf"{model}.* already exists.*--force"):
        train_classifier.run(parse(shared / "data/yoga_poses_csv/yoga_train_data.csv", "--out", out))
    assert (out / model).read_bytes() == b"the model the appliance runs"


@needs_tensorflow
def test_a_forced_run_without_int8_leaves_no_int8_model_of_the_run_before(tmp_path, shared):
    """model_int8.tflite of an earlier --int8 run beside the new labels.txt would be loaded without a warning and
    named with the new run's labels."""
    csvs, out = shared / "data/yoga_poses_csv", tmp_path / "out"
    train_command(csvs / "yoga_test_data.csv", "--out", out, "--epochs", 2, "--int8")
    assert (out / "model_int8.tflite").is_file()
    (out / "notes.txt").write_text("mine")
    train_command(csvs / "yoga_test_data.csv", "--out", out, "--epochs", 2, "--force")
    assert sorted(p.name for p in out.iterdir()) == ["confusion.png", "labels.txt", "model.json", "model.tflite",
                                                     "notes.txt", "reference.npz", "report.json", "report.md",
                                                     "training.png"]


# ------------------------------------------------------------------------------- issue 11: labels to trust
@pytest.fixture(scope="module")
def tutorial_csv_model(tmp_path_factory, shared):
    """train-classifier on the tutorial's training CSV alone (20 % of it held out), as a user would."""
    out = tmp_path_factory.mktemp("tutorial_csv_model")
    train_command(shared / "data/yoga_poses_csv/yoga_train_data.csv", "--out", out)
    return out


def test_trained_on_the_tutorial_csv_it_holds_out_97_percent(tutorial_csv_model):
    report = json.loads((tutorial_csv_model / "report.json").read_text())
    assert sum(report["samples"]["test"].values()) == 194
    assert report["models"]["model.tflite"]["accuracy"] >= 0.97


def test_the_trained_model_passes_the_appliance_checks(tutorial_csv_model, tmp_path, models_dir, shared):
    """The yoga photos, the walking and squat videos and the COCO photos through `run` with the trained model
    and the reference train-classifier wrote beside it."""
    from conftest import run_records, single_person_coco_folder, yoga_verdicts

    config = classifier_config_file(tmp_path, tutorial_csv_model / "model.tflite")
    right, wrong = yoga_verdicts(run_records(tmp_path, models_dir, shared / "data/yoga_cg_subset/test", "--config",
                                             str(config)))
    assert wrong == []
    assert right >= 48  # measured 49-50 with seeds 0-3 (47 / 46 / 48 / 49 before photos were judged on both views)
    for video in ("pose_1.mp4", "pose_squats.mp4"):
        records = run_records(tmp_path, models_dir, shared / "data/tfjs_pose_detection" / video, "--config",
                              str(config))
        assert sum(r["label"] is not None for r in records) <= 0.10 * len(records)
    coco = run_records(tmp_path, models_dir, single_person_coco_folder(tmp_path, shared), "--config", str(config))
    # One of the seven (a skier in mid-air, body level) is as close to cobra as real cobras are. Trained on hard
    # targets, the classifier scored it cobra 0.87; with smoothed targets it stays under min_label_score, as the
    # published classifier's 0.66 does.
    assert [r["label"] for r in coco] == [None] * 7


def classifier_config_file(tmp_path, model):
    """A config file that runs the appliance with the classifier ``model`` (labels and reference beside it)."""
    config = tmp_path / "classifier.toml"
    config.write_text(f'[classifier]\npath = "{model}"\n')
    return config


@needs_tensorflow
def test_an_other_class_is_learnt_and_never_shown(tmp_path, models_dir, shared):
    """The tutorial's CSV plus an ``other`` class of everyday poses: the squat video's frames and the shared COCO
    photos outside the single-person seven. The walking video and the seven are held out."""
    from conftest import run_records, single_person_coco, single_person_coco_folder, yoga_verdicts

    from pose_appliance.classify.keypoint_csv import KeypointSet, write_keypoint_csv

    tutorial = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_train_data.csv")
    held_out = {p.name for p in single_person_coco(shared)}
    coco = tmp_path / "coco_other"
    coco.mkdir()
    for photo in sorted((shared / "data/coco_mini/train2017").glob("*.jpg")):
        if photo.name not in held_out:
            (coco / photo.name).symlink_to(photo)
    other = [(f"other/squats_{r['frame']:03d}.jpg", r["keypoints"])
             for r in run_records(tmp_path, models_dir, shared / "data/tfjs_pose_detection/pose_squats.mp4")]
    other += [(f"other/{r['file']}", r["keypoints"]) for r in run_records(tmp_path, models_dir, coco)]
    other = [(name, keypoints) for name, keypoints in other if keypoints]
    classes = tutorial.classes + ["other"]
    dataset = KeypointSet(classes, np.concatenate([tutorial.keypoints, np.array([k for _, k in other], np.float32)]),
                          np.concatenate([tutorial.targets, np.full(len(other), len(tutorial.classes))]),
                          tutorial.files + [name for name, _ in other])
    write_keypoint_csv(tmp_path / "with_other.csv", dataset)
    out = tmp_path / "model"
    done = train_command(tmp_path / "with_other.csv", "--out", out, "--models-dir", models_dir)

    assert (out / "labels.txt").read_text().split() == classes
    report = json.loads((out / "report.json").read_text())
    open_set = report["open_set"]
    assert open_set["other_samples"] == report["samples"]["test"]["other"] > 10
    assert open_set["other_unnamed"] == open_set["other_samples"]  # held-out "other" poses get no label
    assert f'"other" (never shown): {open_set["other_unnamed"]} get no label' in done.stdout
    assert "samples of the class *other* (never shown by the appliance)" in (out / "report.md").read_text()

    config = classifier_config_file(tmp_path, out / "model.tflite")
    # The classifier calls most squat frames (trained on) "other"; the appliance shows no label for them.
    classifier = create_classifier(ClassifierConfig(path=str(out / "model.tflite")), models_dir)
    squats = run_records(tmp_path, models_dir, shared / "data/tfjs_pose_detection/pose_squats.mp4", "--config",
                         str(config))
    raw = [classifier.labels[int(np.argmax(classifier.classify(np.array(r["keypoints"], np.float32))))]
           for r in squats if r["keypoints"]]
    assert raw.count("other") > 0.8 * len(raw)
    assert [r["label"] for r in squats] == [None] * len(squats)
    tree = tutorial.keypoints[tutorial.targets == tutorial.classes.index("tree")][0]
    assessment = classifier.assess(Pose(tree))
    assert classifier.classify(tree)[-1] > 0.0 and assessment.scores is not None
    assert assessment.scores[-1] == 0.0  # the smoother's average can never add up to "other"
    walking = run_records(tmp_path, models_dir, shared / "data/tfjs_pose_detection/pose_1.mp4", "--config",
                          str(config))
    assert sum(r["label"] is not None for r in walking) <= 0.10 * len(walking)
    coco = run_records(tmp_path, models_dir, single_person_coco_folder(tmp_path, shared), "--config", str(config))
    assert [r["label"] for r in coco] == [None] * 7
    right, wrong = yoga_verdicts(run_records(tmp_path, models_dir, shared / "data/yoga_cg_subset/test", "--config",
                                             str(config)))
    assert wrong == []
    assert right >= 43  # 45 measured: "other" costs some yoga names


def test_tensorflow_is_checked_before_any_pose_estimation(tmp_path, monkeypatch, shared):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real_find_spec(name, *a))
    # An image folder and no models at all: pose estimation would fail with "no model fetched" first.
    with pytest.raises(UserError, match=r"TensorFlow is not installed: pip install 'pose-appliance\[train\]'"):
        train_classifier.run(parse(shared / "data/yoga_cg_subset/test", "--out", tmp_path / "out",
                                   "--models-dir", tmp_path / "no-models"))


def test_the_appliance_warns_when_a_classifier_was_trained_on_another_pose_model(tmp_path, yoga_classifier,
                                                                                 yoga_labels, caplog):
    import shutil

    from pose_appliance.classify import warn_if_trained_for_another_setup

    model = tmp_path / "model.tflite"
    shutil.copyfile(yoga_classifier, model)
    shutil.copyfile(yoga_labels, tmp_path / "labels.txt")
    assert warn_if_trained_for_another_setup(model, "movenet_lightning_int8") == []  # no model.json: nothing
    (tmp_path / "model.json").write_text(json.dumps({"pose_model": "movenet_thunder_int8", "feature_version": 1}))
    assert warn_if_trained_for_another_setup(model, "movenet_thunder_int8") == []
    with caplog.at_level("WARNING"):
        create_classifier(ClassifierConfig(path=str(model)), tmp_path, pose_model="movenet_lightning_int8")
    text = caplog.text
    assert "trained on keypoints of movenet_thunder_int8 but the appliance runs movenet_lightning_int8" in text
    assert "no pose reference" in text  # and it says the open-set check is off without reference.npz


def test_the_report_says_a_photo_is_judged_on_the_picture_and_its_mirror_image_together():
    """As PoseClassifier.assess does: scores and class distances of both views averaged."""
    from pose_appliance.training.report import report_markdown

    report = {"dataset": "poses", "keypoints_from": "movenet", "classes": ["chair", "tree"],
              "samples": {split: {"chair": 1, "tree": 1} for split in ("train", "validation", "test")},
              "test_set": "20 % held out", "times_s": {"train_s": 1.0}, "seed": 0, "models": {}, "skipped": [],
              "training": {"epochs_run": 1, "max_epochs": 1, "best_epoch": 1, "best_val_accuracy": 1.0,
                           "label_smoothing": 0.1, "mirror_images": True},
              "open_set": {"min_familiarity": 0.05, "named": 2, "samples": 2, "named_right": 2, "named_wrong": 0,
                           "refused_view": 0}}
    markdown = " ".join(report_markdown(report).split())
    assert "on the picture and its mirror image together" in markdown
    assert "names a little less" not in markdown
