"""PoseClassifier on the published yoga classifier, labels checks, and create_classifier's file resolution."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from pose_appliance.classify import ClassifierError, PoseClassifier, create_classifier, read_labels
from pose_appliance.classify.keypoint_csv import read_keypoint_csv
from pose_appliance.config import ClassifierConfig, ModelConfig
from pose_appliance.types import Pose


def test_published_yoga_classifier_on_the_tutorial_test_csv(shared, yoga_classifier, yoga_labels):
    classifier = PoseClassifier(yoga_classifier, yoga_labels)
    assert classifier.labels == ["chair", "cobra", "dog", "tree", "warrior"]
    samples = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_test_data.csv")
    scores = np.stack([classifier.classify(Pose(k)) for k in samples.keypoints])
    assert scores.shape == (495, 5)
    assert scores.sum(axis=1) == pytest.approx(np.ones(495), abs=1e-4)
    accuracy = float((scores.argmax(axis=1) == samples.targets).mean())
    assert accuracy >= 0.95, accuracy


def test_image3_is_tree_with_keypoints_from_the_estimator(shared, models_dir, yoga_classifier, yoga_labels):
    from pose_appliance.inference import create_estimator

    estimator = create_estimator(ModelConfig(name="movenet_lightning_int8", delegate="cpu"), models_dir)
    image = cv2.cvtColor(cv2.imread(str(shared / "data/tf_examples_rpi_pose/image3.jpeg")), cv2.COLOR_BGR2RGB)
    pose = estimator.estimate_still(image)
    classifier = PoseClassifier(yoga_classifier, yoga_labels)
    scores = classifier.classify(pose)
    assert classifier.labels[int(np.argmax(scores))] == "tree"
    assert scores.max() > 0.9


def test_labels_file_with_the_wrong_count_names_the_file(tmp_path, yoga_classifier):
    labels = tmp_path / "my_labels.txt"
    labels.write_text("chair\ncobra\ndog\n")
    with pytest.raises(ClassifierError, match=r"my_labels.txt: 3 labels but yoga_classifier.tflite has 5 outputs"):
        PoseClassifier(yoga_classifier, labels)


def test_missing_or_empty_labels_file_names_the_file(tmp_path, yoga_classifier):
    with pytest.raises(ClassifierError, match=r"nothere.txt: labels file not found"):
        PoseClassifier(yoga_classifier, tmp_path / "nothere.txt")
    (tmp_path / "blank.txt").write_text("\n  \n")
    with pytest.raises(ClassifierError, match=r"blank.txt: labels file is empty"):
        PoseClassifier(yoga_classifier, tmp_path / "blank.txt")


def test_a_labels_file_saved_with_a_byte_order_mark_loads(tmp_path, yoga_classifier, yoga_labels):
    """labels.txt re-saved by Windows Notepad starts with U+FEFF, which would stick to the first label."""
    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"\xef\xbb\xbf" + yoga_labels.read_bytes())
    assert read_labels(labels) == read_labels(yoga_labels)
    assert PoseClassifier(yoga_classifier, labels).labels[0] == "chair"


def test_a_model_that_is_not_a_classifier_is_rejected(lightning_int8, yoga_labels):
    with pytest.raises(ClassifierError, match=r"lite-model_movenet.*tflite: input shape \[1, 192, 192, 3\]"):
        PoseClassifier(lightning_int8, yoga_labels)


def test_create_classifier_disabled_is_none(tmp_path):
    assert create_classifier(ClassifierConfig(enabled=False), tmp_path) is None


def test_create_classifier_from_a_path_finds_labels_beside_it(tmp_path, yoga_classifier, yoga_labels):
    model = tmp_path / "poses.tflite"
    shutil.copy(yoga_classifier, model)
    with pytest.raises(ClassifierError, match=r"classifier.labels: no labels for .*poses.tflite .*poses_labels.txt"):
        create_classifier(ClassifierConfig(path=str(model)), tmp_path)
    shutil.copy(yoga_labels, tmp_path / "labels.txt")
    assert create_classifier(ClassifierConfig(path=str(model)), tmp_path).labels[3] == "tree"
    (tmp_path / "poses_labels.txt").write_text("a\nb\nc\nd\ne\n")  # <stem>_labels.txt wins over labels.txt
    assert create_classifier(ClassifierConfig(path=str(model)), tmp_path).labels == list("abcde")
    explicit = ClassifierConfig(path=str(model), labels=str(yoga_labels))
    assert create_classifier(explicit, tmp_path).labels[0] == "chair"


def test_create_classifier_missing_path_says_what_to_do(tmp_path):
    with pytest.raises(ClassifierError, match=r"classifier.path: .*gone.tflite: no such file .*train-classifier"):
        create_classifier(ClassifierConfig(path=str(tmp_path / "gone.tflite")), tmp_path)


def test_create_classifier_by_name_from_the_fetched_models(models_dir, yoga_classifier):
    classifier = create_classifier(ClassifierConfig(), models_dir)
    assert classifier.labels == ["chair", "cobra", "dog", "tree", "warrior"]
    assert classifier.model_path.read_bytes() == yoga_classifier.read_bytes()
