"""The pose reference's files: the cache beside a keypoint CSV and the reference.npz beside a trained classifier."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pose_appliance.classify import ClassifierError, create_classifier
from pose_appliance.classify.keypoint_csv import read_keypoint_csv, write_keypoint_csv
from pose_appliance.classify.reference import PoseReference, reference_from_csv
from pose_appliance.config import ClassifierConfig


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory, shared) -> Path:
    """The first 12 training rows of each class of the tutorial CSV (a reference builds in a second)."""
    train = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_train_data.csv")
    rows = np.concatenate([np.flatnonzero(train.targets == c)[:12] for c in range(len(train.classes))])
    path = tmp_path_factory.mktemp("csv") / "poses.csv"
    write_keypoint_csv(path, train.subset(rows))
    return path


def damaged(data: bytes) -> dict[str, bytes]:
    middle = len(data) // 2
    flipped = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
    return {"truncated": data[:middle], "byte flipped": flipped, "empty": b"", "not a zip": b"file_name,nose_x\n"}


def same_reference(a: PoseReference, b: PoseReference) -> bool:
    return (a.classes == b.classes and np.array_equal(a.features, b.features) and np.array_equal(a.visible, b.visible)
            and np.array_equal(a.targets, b.targets) and np.array_equal(a.quantiles, b.quantiles))


def test_a_damaged_reference_cache_is_rebuilt(tmp_path, small_csv):
    csv = tmp_path / small_csv.name
    shutil.copy(small_csv, csv)
    built = reference_from_csv(csv)
    cache = tmp_path / "poses.reference-v1.npz"
    intact = cache.read_bytes()
    for how, data in damaged(intact).items():
        cache.write_bytes(data)
        with pytest.raises(ValueError, match="not a pose reference file"):
            PoseReference.load(cache)
        assert same_reference(reference_from_csv(csv), built), how
        assert PoseReference.load(cache).source_sha256 == built.source_sha256, how  # and the cache written again


def test_a_damaged_reference_beside_a_trained_classifier_names_the_file_and_the_fix(tmp_path, yoga_classifier,
                                                                                      yoga_labels, small_csv):
    model = tmp_path / "model.tflite"
    shutil.copy(yoga_classifier, model)
    shutil.copy(yoga_labels, tmp_path / "labels.txt")
    reference_from_csv(small_csv, cache_dir=tmp_path).save(tmp_path / "reference.npz")
    intact = (tmp_path / "reference.npz").read_bytes()
    for how, data in damaged(intact).items():
        (tmp_path / "reference.npz").write_bytes(data)
        with pytest.raises(ClassifierError) as error:
            create_classifier(ClassifierConfig(path=str(model)), tmp_path)
        assert str(tmp_path / "reference.npz") in str(error.value), how
        assert "train-classifier" in str(error.value), how


def test_saving_a_reference_writes_through_a_temp_file_of_its_own(tmp_path, small_csv):
    """Two processes caching the same CSV must not write into one temp file: a ``reference.npz.tmp`` left by
    another writer (here a folder in its way) is neither used nor removed, and no temp file stays behind."""
    reference = reference_from_csv(small_csv, cache_dir=tmp_path)
    target = tmp_path / "reference.npz"
    (tmp_path / "reference.npz.tmp").mkdir()
    reference.save(target)
    assert same_reference(PoseReference.load(target), PoseReference.load(tmp_path / "poses.reference-v1.npz"))
    assert target.stat().st_mode & 0o777 == 0o644  # readable by an appliance running as another user
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poses.reference-v1.npz", "reference.npz",
                                                           "reference.npz.tmp"]
