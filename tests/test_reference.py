"""The pose reference's files: the cache beside a keypoint CSV and the reference.npz beside a trained classifier."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from pose_appliance.classify import ClassifierError, create_classifier
from pose_appliance.classify.keypoint_csv import read_keypoint_csv, write_keypoint_csv
from pose_appliance.classify.reference import (
    NEIGHBOURS,
    QUANTILES,
    PoseReference,
    is_camera_name,
    keypoint_major,
    largest_deviation,
    pose_landmarks,
    reference_from_csv,
    sequence_groups,
)
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
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # as any file this process makes, not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poses.reference-v1.npz", "reference.npz",
                                                           "reference.npz.tmp"]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002], ids=oct)
def test_a_saved_reference_gets_the_permissions_the_umask_gives(tmp_path, small_csv, umask):
    """Readable by an appliance running as another user where the umask allows it (022), and no more than the
    owner's umask allows (027 keeps it from others; 002 lets the group write)."""
    reference = reference_from_csv(small_csv, cache_dir=tmp_path / "cache")
    previous = os.umask(umask)
    try:
        reference.save(tmp_path / "reference.npz")
    finally:
        os.umask(previous)
    assert (tmp_path / "reference.npz").stat().st_mode & 0o777 == 0o666 & ~umask


# ------------------------------------------------------------------------------------------- sequences
def phone_names(samples) -> list[str]:
    """One downloaded picture per class, the rest taken with phones and cameras (consecutive counters within a
    class, as a user photographing one pose after another gets)."""
    cameras = ["IMG_{:04d}", "PXL_20240611_0930{:02d}123", "DSC{:05d}", "IMG_20240611_1015{:02d}", "DSCN{:04d}",
               "20240611_1102{:02d}", "P101{:04d}", "WhatsApp Image 2024-06-11 at 11.{:02d}.07"]
    names, seen = [], set()
    for i, target in enumerate(samples.targets):
        name = samples.classes[target]
        if name not in seen:
            seen.add(name)
            names.append(f"{name}/downloaded_{name}.jpg")
        else:
            names.append(f"{name}/{cameras[i % len(cameras)].format(i % 60)}.jpg")
    return names


def test_photos_named_by_a_camera_or_phone_are_images_of_their_own(shared):
    """IMG_0001, IMG_0002 ... are separate shots, not the frames of one video: leaving one "sequence" out must not
    leave out every other photo of the class (that dropped all but 2 poses per class and named 0.65 of the test
    poses right instead of 0.93)."""
    train = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_train_data.csv")
    rows = np.concatenate([np.flatnonzero(train.targets == c)[:40] for c in range(len(train.classes))])
    samples = train.subset(rows)
    names = phone_names(samples)
    assert len(set(sequence_groups(samples.targets, names))) == len(names)
    one_per_image = [f"{samples.classes[t]}/photo{i}.jpg" for i, t in enumerate(samples.targets)]
    phone = PoseReference.build(samples.keypoints, samples.targets, samples.classes, names)
    apart = PoseReference.build(samples.keypoints, samples.targets, samples.classes, one_per_image)
    assert same_reference(phone, apart)


def test_the_frames_of_one_video_are_one_sequence_within_their_class(shared):
    """The tutorial's training CSV: five people per pose, every image a frame of that person's video of the pose
    (guy2_tree085, guy2_tree086, ...; up to 29 frames apart): 25 sequences, as the published reference's figures
    were measured with."""
    train = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_train_data.csv")
    groups = sequence_groups(train.targets, train.files)
    people = [f.rsplit("/", 1)[1].split("_")[0] for f in train.files]
    assert len(set(groups)) == 25
    assert len(set(zip(groups, train.targets, people))) == 25
    # One stem in two class folders is two videos; frames far apart are two takes.
    files = ["tree/clip_0001.jpg", "tree/clip_0002.jpg", "chair/clip_0003.jpg", "chair/clip_0004.jpg",
             "tree/clip_0900.jpg", "tree/clip_0901.jpg", "chair/other.jpg"]
    groups = sequence_groups(np.array([0, 0, 1, 1, 0, 0, 1]), files)
    assert [len(set(groups[i:i + 2])) for i in (0, 2, 4)] == [1, 1, 1] and len(set(groups)) == 4


@pytest.mark.parametrize("pattern", ["{}{:04d}.jpg", "{}_{:04d}.jpg"])
def test_frames_extracted_from_videos_are_one_sequence_per_video(pattern):
    """ffmpeg -i tree.mp4 tree%04d.jpg names frames like a camera's counter, but in lower case: cameras write DCF
    names upper case, with a letter or _ in the 4-character prefix."""
    files = [f"tree/{pattern.format(video, number)}" for video in ("tree", "pose") for number in range(1, 31)]
    groups = sequence_groups(np.zeros(len(files), np.int64), files)
    assert len(set(groups[:30].tolist())) == 1 and len(set(groups[30:].tolist())) == 1 and groups[0] != groups[30]
    assert not any(is_camera_name(file) for file in files + ["tree/00000001.jpg"])
    for name in ("IMG_0001", "DSC01234", "DSCN0042", "P1010001", "_DSC0042", "100_0001", "PXL_20240611_093012123",
                 "IMG_20240611_101503", "WhatsApp Image 2024-06-11 at 11.12.07"):
        assert is_camera_name(f"tree/{name}.jpg"), name


def test_each_class_is_measured_by_its_nearest_poses_however_many_it_has():
    """examine finds the NEIGHBOURS nearest poses of all classes at once: a class with fewer poses is measured by
    all of them (infinitely far when one shares too few keypoints with the pose), a class without poses is
    infinitely far and covers nothing."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        targets = np.repeat([0, 1, 2, 3], [rng.integers(6, 30), rng.integers(1, 5), 0, rng.integers(1, 9)])
        features = rng.uniform(-1, 1, (len(targets), 17, 2)).astype(np.float32)
        visible = rng.random((len(targets), 17)) < 0.8
        too_few = rng.choice(len(targets), 4, replace=False)
        visible[too_few, 4:] = False  # too few keypoints to compare with
        reference = PoseReference(["a", "b", "c", "d"], features, visible, targets,
                                  np.zeros((4, QUANTILES), np.float32))
        keypoints = np.column_stack([rng.uniform(0, 640, (17, 2)), np.full(17, 0.9)]).astype(np.float32)
        keypoints[[15, 16], 2] = 0.05

        distances, _, coverage = reference.examine(keypoints)

        pose, seen = pose_landmarks(keypoints)
        deviations = largest_deviation(pose, seen, *keypoint_major(features, visible))
        assert np.isinf(deviations[too_few]).all() and np.isfinite(np.delete(deviations, too_few)).all()
        shown = (visible & seen).sum(axis=1) / visible.sum(axis=1)
        for c in (0, 1, 3):
            members = np.flatnonzero(targets == c)
            if np.isinf(deviations[members]).sum() > max(len(members) - NEIGHBOURS, 0):
                assert distances[c] == np.inf  # which of the infinitely far poses count is left open
                continue
            nearest = members[np.argsort(deviations[members])[:NEIGHBOURS]]
            assert distances[c] == pytest.approx(deviations[nearest].mean(), rel=1e-6)
            assert coverage[c] == pytest.approx(shown[nearest].mean(), rel=1e-6)
        assert distances[2] == np.inf and coverage[2] == 0.0


def test_familiarity_is_the_share_of_the_quantile_table_beyond_the_distance():
    """familiarity_of interpolates each class's quantile table as np.interp does, to the last bit: between
    entries, on them, on repeated entries, beyond both ends, and for a class without a finite held-out distance."""
    rng = np.random.default_rng(3)
    steps = np.linspace(0.0, 1.0, QUANTILES)
    spread = np.sort(rng.uniform(0.05, 1.2, QUANTILES)).astype(np.float32)
    repeated = np.sort(np.round(rng.uniform(0.1, 0.6, QUANTILES), 2)).astype(np.float32)  # many equal entries
    tables = np.stack([spread, repeated, np.full(QUANTILES, np.inf, np.float32)])
    reference = PoseReference(["a", "b", "c"], np.zeros((3, 17, 2), np.float32), np.ones((3, 17), bool),
                              np.arange(3), tables)
    candidates = np.concatenate([rng.uniform(0.0, 1.5, 500), spread, repeated, np.nextafter(spread, 0),
                                 [0.0, 2.0, np.inf, np.nan]]).astype(np.float32)
    for distance in candidates:
        familiarity = reference.familiarity_of(np.full(3, distance, np.float32))
        expected = [1.0 - np.interp(distance, table, steps, left=0.0, right=1.0) if np.isfinite(distance) else 0.0
                    for table in tables]
        assert familiarity.tolist() == np.array(expected, np.float32).tolist(), distance
