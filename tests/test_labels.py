"""Labels you can trust (issue 11), end to end through `run` on real models and data.

The figures asserted here are the dev-data versions of the issue's targets; the method was calibrated on the
tutorial's training CSV only (leave-one-sequence-out), never on these files.
"""

from __future__ import annotations

import collections
import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import run_records, single_person_coco, single_person_coco_folder, yoga_verdicts

from pose_appliance.classify import Assessment, create_classifier
from pose_appliance.classify.keypoint_csv import read_keypoint_csv
from pose_appliance.classify.view_check import view_problem
from pose_appliance.config import ClassifierConfig
from pose_appliance.types import KEYPOINT_INDEX, Pose


def label_changes(labels: list[str | None]) -> int:
    return sum(1 for a, b in itertools.pairwise(labels) if a != b)


def label_changes_per_minute(records: list[dict], video: Path) -> float:
    """Label changes per minute of the video's own time (an unpaced run is faster than the video)."""
    import cv2

    fps = cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS)
    return label_changes([r["label"] for r in records]) / (len(records) / fps / 60.0)


@pytest.fixture(scope="module")
def yoga_classifier_with_reference(models_dir):
    return create_classifier(ClassifierConfig(), models_dir)


# ------------------------------------------------------------------------------------------- end to end
def test_yoga_photos_are_named_right_and_never_wrong(tmp_path, models_dir, shared):
    """The 50 yoga_cg images through `run --source <folder>` (one sub-folder per pose); records name the file."""
    records = run_records(tmp_path, models_dir, shared / "data/yoga_cg_subset/test")
    assert len(records) == 50 and all("/" in r["file"] for r in records)
    right, wrong = yoga_verdicts(records)
    assert wrong == []
    # Issue 11 asks for 48. Unnamed: a cobra seen head-on (hips scored < 0.2) and a Warrior III whose legs
    # Lightning misplaces; they sit on the edge of the open-set decision, see the issue note.
    assert right >= 48, [(r["file"], r["label"]) for r in records if r["label"] is None]


@pytest.mark.parametrize("video", ["pose_1.mp4", "pose_squats.mp4"])
def test_everyday_movement_on_video_gets_a_yoga_label_on_at_most_10_percent_of_frames(tmp_path, models_dir,
                                                                                        shared, video):
    path = shared / "data/tfjs_pose_detection" / video
    records = run_records(tmp_path, models_dir, path)
    labelled = sum(r["label"] is not None for r in records)
    assert labelled <= 0.10 * len(records), collections.Counter(r["label"] for r in records)
    assert label_changes_per_minute(records, path) <= 30  # at most one appearance + disappearance per 4 s


def test_single_person_coco_photos_get_no_yoga_label(tmp_path, models_dir, shared):
    photos = single_person_coco(shared)
    assert len(photos) == 7
    records = run_records(tmp_path, models_dir, single_person_coco_folder(tmp_path, shared))
    assert [r["file"] for r in records] == sorted(p.name for p in photos)
    assert [r["label"] for r in records] == [None] * 7


def noisy_slideshow(path: Path, images: list[Path], hold: int) -> Path:
    """``images`` in turn, each held ``hold`` frames at 30 fps with fresh sensor-like noise in every frame."""
    import cv2

    first = cv2.imread(str(images[0]))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (first.shape[1], first.shape[0]))
    rng = np.random.default_rng(0)
    for image in map(cv2.imread, map(str, images)):
        for _ in range(hold):
            writer.write(np.clip(image.astype(np.int16) + rng.normal(0, 4, image.shape).round(), 0, 255)
                         .astype(np.uint8))
    writer.release()
    return path


def test_a_held_yoga_pose_on_video_keeps_its_label(tmp_path, models_dir, shared):
    """The open-set check and the hysteresis must not starve a real pose: a tree held for 2 s (one photo with
    fresh sensor-like noise in every frame) is named after a few frames and stays named."""
    path = noisy_slideshow(tmp_path / "held_tree.avi", [shared / "data/yoga_cg_subset/test/tree/guy3_tree133.jpg"],
                           hold=60)
    labels = [r["label"] for r in run_records(tmp_path, models_dir, path)]
    first = next(i for i, label in enumerate(labels) if label is not None)
    assert first <= 5 and set(labels[first:]) == {"tree"}


def test_a_yoga_session_on_video_names_each_pose_without_blinking(tmp_path, models_dir, shared):
    """The 50 yoga_cg photos as a video: each pose's ten photos (frames of one orbit around the person, ~0.3 s
    apart) in turn, then the next pose. Lightning refuses some views of warrior for a few frames; the label
    smoother's grace keeps the name through them, and wrong names come only in the first frames after a cut
    (the previous pose's name, smoothed)."""
    folder = shared / "data/yoga_cg_subset/test"
    photos = sorted(folder.glob("*/*.jpg"))
    video = noisy_slideshow(tmp_path / "session.avi", photos, hold=8)
    truth = [p.parent.name for p in photos for _ in range(8)]
    no_grace = tmp_path / "no_grace.toml"
    no_grace.write_text("[classifier]\nlabel_grace_seconds = 0.0\n")

    def outcome(*extra: str) -> tuple[int, list[int], int]:
        labels = [r["label"] for r in run_records(tmp_path, models_dir, video, *extra)]
        assert len(labels) == len(truth)
        right = sum(label == t for label, t in zip(labels, truth))
        wrong = [i for i, (label, t) in enumerate(zip(labels, truth)) if label not in (None, t)]
        return right, wrong, label_changes(labels)

    right, wrong, changes = outcome()
    cuts = [i for i in range(1, len(truth)) if truth[i] != truth[i - 1]]
    assert all(any(0 <= i - cut < 6 for cut in cuts) for i in wrong), wrong
    assert right >= 0.85 * len(truth)
    plain_right, _, plain_changes = outcome("--config", str(no_grace))
    assert right > plain_right and changes < plain_changes
    # Appear, one change per cut, and gaps longer than the grace: two in warrior (9 changes measured, 13
    # without the grace).
    assert changes <= 1 + len(cuts) + 6, changes


# ----------------------------------------------------------------------------------- held-out CSV rows
def test_held_out_csv_rows_are_named_right(yoga_classifier_with_reference, shared):
    """yoga_test_data.csv (a person the training CSV does not have): the classifier and the open-set check on
    MoveNet Thunder keypoints, as stored."""
    classifier = yoga_classifier_with_reference
    samples = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_test_data.csv")
    named = right = 0
    for keypoints, target in zip(samples.keypoints, samples.targets):
        assessment = classifier.assess(Pose(keypoints))
        if assessment.scores is not None:
            named += 1
            right += int(np.argmax(assessment.scores)) == target
    assert right == named and right >= 0.93 * len(samples), (right, named, len(samples))


def test_an_unseen_far_side_ankle_neither_refuses_nor_misleads_the_classifier(yoga_classifier_with_reference,
                                                                              shared):
    """The TF sample refused every pose with one keypoint < 0.1. Here the far-side knee and ankle of the
    held-out rows are hidden (moved to a random spot, score 0.05): the pose is still assessed, and filling
    them in from the nearest reference pose keeps the classifier's accuracy where it was."""
    classifier = yoga_classifier_with_reference
    samples = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_test_data.csv")
    rng = np.random.default_rng(1)
    hidden = samples.keypoints.copy()
    for keypoints in hidden:
        for name in ("right_knee", "right_ankle"):
            index = KEYPOINT_INDEX[name]
            keypoints[index, :2] = rng.uniform(0, 300, 2)
            keypoints[index, 2] = 0.05
    raw = np.mean([np.argmax(classifier.classify(k)) == t for k, t in zip(hidden, samples.targets)])
    imputed = np.mean([np.argmax(classifier.classify(classifier.reference.impute(k))) == t
                       for k, t in zip(hidden, samples.targets)])
    refused = sum(classifier.assess(Pose(k)).hint is not None for k in hidden)
    refused_before = sum(classifier.assess(Pose(k)).hint is not None for k in samples.keypoints)
    assert refused == refused_before <= 2
    assert imputed >= 0.9 and imputed > raw + 0.1, (raw, imputed)


# MoveNet Lightning's keypoints (x, y, score) on yoga_cg/test/chair/guy3_chair143.jpg of the tutorial's yoga image set
# (not in ../shared: one of the 495 test images the note's figures come from).
CHAIR_SEEN_FROM_ABOVE = [
    [149.9, 95.9, 0.6], [153.6, 89.7, 0.6], [151.2, 91.0, 0.5], [162.2, 91.0, 0.6], [156.1, 88.5, 0.5],
    [181.9, 104.5, 0.8], [153.6, 99.6, 0.4], [156.1, 72.5, 0.8], [136.4, 84.8, 0.5], [143.8, 46.7, 0.5],
    [126.6, 56.5, 0.7], [189.3, 172.1, 0.8], [185.6, 173.3, 0.7], [148.7, 199.1, 0.8], [149.9, 199.1, 0.7],
    [172.1, 243.4, 0.7], [175.8, 245.8, 0.7]]


def test_a_pose_close_to_its_class_is_named_though_a_wide_class_scores_a_little_higher(
        yoga_classifier_with_reference):
    """Warrior's held-out distances are bimodal, so warrior's familiarity is a flat ~0.2 for any pose between its
    two modes. A chair 0.12 from chair (familiarity 0.18) lost to that plateau under a "most familiar class" rule;
    a rival class now has to be more than twice as familiar."""
    classifier = yoga_classifier_with_reference
    assessment = classifier.assess(Pose(np.array(CHAIR_SEEN_FROM_ABOVE, np.float32)), (300, 300))
    familiarity = dict(zip(classifier.labels, assessment.familiarity))
    assert familiarity["warrior"] > familiarity["chair"] > 0.1, familiarity
    assert assessment.scores is not None and classifier.labels[int(np.argmax(assessment.scores))] == "chair"
    distances = classifier.reference.distances(np.array(CHAIR_SEEN_FROM_ABOVE, np.float32))
    chair = classifier.labels.index("chair")
    assert not classifier.reference.accepts(chair, distances, min_familiarity=0.5)  # the config's floor still holds


# MoveNet Lightning on images/warrior4.jpg of github.com/nntruong1907/MoveNet_Yoga (600x400, a real photo of a
# Warrior III; not in ../shared), and on ../shared's COCO skier train2017/000000183872.jpg (640x426).
WARRIOR_III_PHOTO = [
    [417.88, 121.23, 0.64], [420.34, 113.86, 0.7], [417.88, 111.4, 0.57], [403.13, 104.02, 0.75],
    [395.76, 101.57, 0.84], [361.34, 116.31, 0.8], [373.63, 118.77, 0.8], [437.54, 148.27, 0.8],
    [432.63, 148.27, 0.43], [501.45, 143.35, 0.64], [501.45, 143.35, 0.3], [228.6, 135.98, 0.94],
    [223.69, 150.73, 0.91], [113.07, 148.27, 0.75], [238.44, 278.55, 0.75], [24.58, 148.27, 0.64],
    [258.1, 381.79, 0.57]]
SKIER = [
    [472.0, 43.67, 0.64], [478.24, 42.28, 0.57], [471.3, 40.2, 0.64], [482.41, 41.58, 0.5], [468.53, 40.2, 0.5],
    [491.43, 58.93, 0.57], [457.43, 49.22, 0.5], [500.45, 73.5, 0.3], [439.38, 55.46, 0.7], [502.53, 71.42, 0.2],
    [421.34, 61.01, 0.57], [467.84, 94.32, 0.64], [451.18, 88.77, 0.7], [449.1, 117.92, 0.36],
    [428.28, 103.34, 0.64], [441.47, 151.22, 0.36], [433.14, 140.12, 0.16]]


def test_the_reference_overrules_the_classifier_only_for_a_pose_twice_as_near_to_one_class(
        yoga_classifier_with_reference):
    """The published classifier calls a real Warrior III photo cobra; its training poses put it 2.7x nearer to
    warrior than to any other class, so warrior is named. The skier is nearest to cobra too (the classifier says
    warrior), but only 1.5x nearer than to warrior: no name, as before."""
    classifier = yoga_classifier_with_reference
    warrior = np.array(WARRIOR_III_PHOTO, np.float32)
    assert classifier.labels[int(np.argmax(classifier.classify(classifier.reference.impute(warrior))))] == "cobra"
    assessment = classifier.assess(Pose(warrior), (600, 400))
    assert assessment.scores is not None and classifier.labels[int(np.argmax(assessment.scores))] == "warrior"
    skier = np.array(SKIER, np.float32)
    distances = np.sort(classifier.reference.distances(skier))
    assert 1.0 < distances[1] / distances[0] < 2.0
    assert classifier.assess(Pose(skier), (640, 426)).scores is None


def test_a_photo_is_overruled_only_when_each_of_its_views_is_that_distinct(yoga_classifier_with_reference):
    """Judged on a photo and its mirror image, the distances are averaged; the reference overrules the classifier
    only when every view on its own is twice as near to one class. The Warrior III photo with itself as its
    mirror is still named warrior; with a second view in which another class comes within 1.5x, the mean is
    still twice as near to warrior but that view is not: no name."""
    classifier = yoga_classifier_with_reference
    reference = classifier.reference
    warrior_index = classifier.labels.index("warrior")
    warrior = Pose(np.array(WARRIOR_III_PHOTO, np.float32))
    both = classifier.assess(warrior, (600, 400), mirror=warrior)
    assert both.scores is not None and int(np.argmax(both.scores)) == warrior_index
    distinct = reference.distances(warrior.keypoints)
    not_distinct = distinct.copy()
    not_distinct[np.argsort(distinct)[1]] = distinct[warrior_index] * 1.5
    mean = (distinct + distinct + not_distinct) / 3
    cobra = classifier.labels.index("cobra")
    assert reference.choose(cobra, mean, 0.02) == warrior_index
    assert reference.choose(cobra, mean, 0.02, views=[distinct, distinct]) == warrior_index
    assert reference.choose(cobra, mean, 0.02, views=[distinct, not_distinct]) is None


# MoveNet Lightning on images/tree1.jpg of github.com/nntruong1907/MoveNet_Yoga (564x402, a real photo of a tree).
TREE_PHOTO = [
    [262.45, 40.25, 0.7], [271.62, 34.75, 0.91], [255.11, 32.92, 0.8], [288.13, 43.92, 0.75], [249.6, 42.09, 0.75],
    [295.47, 78.78, 0.75], [234.93, 82.45, 0.88], [300.97, 133.82, 0.93], [201.91, 139.32, 0.88],
    [251.44, 102.63, 0.57], [242.27, 106.3, 0.5], [282.63, 190.69, 0.91], [242.27, 198.03, 0.84],
    [352.34, 251.23, 0.57], [260.61, 287.92, 0.7], [277.12, 234.72, 0.5], [260.61, 247.56, 0.3]]


def test_a_pose_twice_as_near_to_one_class_needs_no_rival_check(yoga_classifier_with_reference):
    """Cobra's training poses are seen from every side, so cobra finds almost any pose a little familiar: this
    tree is more familiar to cobra than to tree, and the rival check alone refuses it. It is also 2.5x nearer to
    tree than to any other class, and that names it."""
    classifier = yoga_classifier_with_reference
    tree = np.array(TREE_PHOTO, np.float32)
    distances = classifier.reference.distances(tree)
    familiarity = dict(zip(classifier.labels, classifier.reference.familiarity_of(distances)))
    assert familiarity["cobra"] > 2 * familiarity["tree"] > 0.02, familiarity
    assert not classifier.reference.accepts(classifier.labels.index("tree"), distances, 0.02)
    assessment = classifier.assess(Pose(tree), (564, 402))
    assert assessment.scores is not None and classifier.labels[int(np.argmax(assessment.scores))] == "tree"


# MoveNet Lightning on two photos without a person, ``run``'s still pass: COCO train2017/000000539216.jpg (500x333,
# a glove puppet behind a glass) and train2017/000000373381.jpg (640x480, a hotel room; the "person" is a pot
# plant). Not in ../shared. The published classifier calls both cobra, and cobra's reference poses lie near them
# on the 8 keypoints seen.
PUPPET = [
    [206.89, 80.37, 0.246], [202.79, 86.52, 0.43], [202.79, 86.52, 0.299], [206.89, 74.23, 0.299],
    [200.75, 82.42, 0.365], [225.33, 82.42, 0.299], [213.04, 76.28, 0.299], [233.52, 125.44, 0.156],
    [268.34, 119.29, 0.197], [227.38, 111.1, 0.246], [227.38, 111.1, 0.197], [327.75, 55.79, 0.094],
    [329.8, 90.62, 0.123], [303.17, 119.29, 0.197], [286.78, 123.39, 0.156], [294.97, 127.49, 0.123],
    [319.55, 125.44, 0.197]]
POT_PLANT = [
    [453.6, 260.86, 0.43], [443.12, 250.37, 0.43], [443.12, 250.37, 0.43], [456.23, 268.72, 0.5],
    [453.6, 266.1, 0.635], [453.6, 279.21, 0.299], [448.36, 271.35, 0.246], [445.74, 289.7, 0.365],
    [385.43, 308.05, 0.123], [435.25, 294.94, 0.156], [380.19, 305.43, 0.156], [367.08, 326.41, 0.156],
    [369.7, 326.41, 0.156], [432.63, 305.43, 0.156], [388.05, 305.43, 0.123], [374.94, 329.03, 0.094],
    [374.94, 329.03, 0.123]]


@pytest.mark.parametrize("keypoints,size", [(PUPPET, (500, 333)), (POT_PLANT, (640, 480))], ids=["puppet", "plant"])
def test_a_pose_that_shows_under_half_of_what_its_class_shows_is_not_named(yoga_classifier_with_reference,
                                                                            keypoints, size):
    """Distances are measured over the keypoints both poses show, so 8 keypoints can lie near a class whose
    poses show all 17. The pose passes the view check, and the classifier with the open-set check alone would
    name it cobra; but it shows under half of what cobra's nearest poses show, so it gets no name."""
    classifier = yoga_classifier_with_reference
    pose = np.array(keypoints, np.float32)
    assert view_problem(Pose(pose), size, min_score=0.2, min_visible=8) is None
    distances, filled, coverage = classifier.reference.examine(pose)
    predicted = int(np.argmax(classifier.classify(filled)))
    cobra = classifier.labels.index("cobra")
    assert classifier.reference.choose(predicted, distances, classifier.min_familiarity) == cobra  # no coverage
    assert coverage[cobra] < 0.5
    assert classifier.assess(Pose(pose), size).scores is None
    # min_familiarity = 0 turns the whole open-set check off, coverage with it: the classifier's label comes back.
    assert classifier.reference.choose(predicted, distances, 0.0, coverage=coverage) == predicted


def test_coverage_is_the_share_of_the_class_poses_keypoints_the_pose_shows_too(yoga_classifier_with_reference,
                                                                               shared):
    """Held-out CSV rows, whole and with their legs and arms hidden: the share each shows of what its class's
    nearest reference poses show."""
    reference = yoga_classifier_with_reference.reference
    samples = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_test_data.csv")
    limbs = [KEYPOINT_INDEX[f"{side}_{part}"] for side in ("left", "right")
             for part in ("elbow", "wrist", "knee", "ankle")]
    whole, without_limbs = [], []
    for keypoints, target in zip(samples.keypoints[::10], samples.targets[::10]):
        whole.append(reference.examine(keypoints)[2][target])
        hidden = keypoints.copy()
        hidden[limbs, 2] = 0.0
        without_limbs.append(reference.examine(hidden)[2][target])
    whole, without_limbs = np.array(whole), np.array(without_limbs)
    assert np.median(whole) > 0.9 and (without_limbs < whole).all(), (whole, without_limbs)
    assert np.median(without_limbs) < 0.6, np.median(without_limbs)  # 9 of 17 seen


# MoveNet Lightning on COCO val2017/000000539445.jpg (612x612, the front of a train; not in ../shared): the pose in the
# photo, and the pose in the photo flipped left to right, mirrored back into the photo's pixels.
TRAIN_FRONT = [
    [193.06, 318.42, 0.365], [195.57, 318.42, 0.365], [188.05, 320.93, 0.365], [190.55, 315.92, 0.299],
    [185.54, 318.42, 0.43], [180.52, 325.95, 0.365], [180.52, 328.45, 0.299], [188.05, 320.93, 0.365],
    [190.55, 323.44, 0.299], [200.58, 318.42, 0.365], [200.58, 330.96, 0.246], [180.52, 330.96, 0.365],
    [190.55, 333.47, 0.299], [200.58, 348.51, 0.299], [195.57, 348.51, 0.365], [195.57, 348.51, 0.246],
    [188.05, 348.51, 0.197]]
TRAIN_FRONT_IN_THE_MIRROR = [
    [167.14, 293.62, 0.057], [152.49, 294.84, 0.299], [152.49, 292.4, 0.299], [153.71, 297.28, 0.299],
    [153.71, 294.84, 0.299], [173.65, 304.2, 0.123], [174.46, 299.72, 0.156], [171.2, 307.45, 0.197],
    [176.9, 305.82, 0.197], [166.32, 308.67, 0.123], [179.75, 302.97, 0.156], [185.03, 309.48, 0.246],
    [181.37, 311.11, 0.299], [188.29, 313.55, 0.197], [183.0, 312.74, 0.094], [184.22, 325.35, 0.123],
    [180.56, 327.38, 0.094]]


def test_a_still_is_judged_on_the_photo_and_its_mirror_image(yoga_classifier_with_reference):
    """A pose and its mirror image are the same pose. The train's "pose" alone is named warrior; judged on both
    views (the classifier's scores and the class distances averaged) it gets no name: the name hung on keypoint
    noise."""
    classifier = yoga_classifier_with_reference
    pose, mirror = Pose(np.array(TRAIN_FRONT, np.float32)), Pose(np.array(TRAIN_FRONT_IN_THE_MIRROR, np.float32))
    alone = classifier.assess(pose, (612, 612))
    assert alone.scores is not None and classifier.labels[int(np.argmax(alone.scores))] == "warrior"
    assert classifier.assess(pose, (612, 612), mirror=mirror).scores is None
    # A pose whose mirror image is itself keeps its name.
    assert classifier.assess(pose, (612, 612), mirror=pose).scores is not None
    # min_familiarity = 0 turns the open-set check off, the mirror check with it.
    classifier.min_familiarity, floor = 0.0, classifier.min_familiarity
    try:
        assert classifier.assess(pose, (612, 612), mirror=mirror).scores is not None
    finally:
        classifier.min_familiarity = floor


def test_a_photo_is_checked_against_its_mirror_image_in_the_photos_pixels(models_dir, shared):
    """Stages.process on a still hands the classifier the pose of the flipped photo, mirrored back: on a clean
    yoga photo it lies on the photo's own pose (left is left again), and the photo keeps its name."""
    import cv2

    from pose_appliance.app import build_stages
    from pose_appliance.camera import FrameSource
    from pose_appliance.config import Config, replace

    stages = build_stages(replace(Config(), "service.models_dir", str(models_dir)))
    seen = {}
    assess = stages.classifier.assess

    def spy(pose, frame_size=None, *, mirror=None):
        seen.update(pose=pose, mirror=mirror)
        return assess(pose, frame_size, mirror=mirror)

    stages.classifier.assess = spy
    path = shared / "data/yoga_cg_subset/test/tree/guy3_tree104.jpg"
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    frame = FrameSource.make_frame(image, 0, still=True)
    pose, decision = stages.process(frame)
    assert seen["mirror"] is not None and seen["pose"] is pose
    assert np.abs(seen["mirror"].keypoints[:, :2] - pose.keypoints[:, :2]).max() < 15
    assert decision.label == "tree"
    # With the open-set check off nothing looks at a mirror pose, so the flipped picture is not estimated.
    stages.classifier.min_familiarity = 0.0
    stages.process(frame)
    assert seen["mirror"] is None


# ------------------------------------------------------------------------------------------- view check
def standing(score: float = 0.9) -> Pose:
    """A person standing in the middle of a 640x480 frame, every keypoint seen."""
    keypoints = np.zeros((17, 3), np.float32)
    for name, (x, y) in {"nose": (320, 80), "left_eye": (325, 75), "right_eye": (315, 75), "left_ear": (330, 80),
                         "right_ear": (310, 80), "left_shoulder": (345, 130), "right_shoulder": (295, 130),
                         "left_elbow": (355, 190), "right_elbow": (285, 190), "left_wrist": (360, 245),
                         "right_wrist": (280, 245), "left_hip": (335, 250), "right_hip": (305, 250),
                         "left_knee": (335, 330), "right_knee": (305, 330), "left_ankle": (335, 410),
                         "right_ankle": (305, 410)}.items():
        keypoints[KEYPOINT_INDEX[name]] = (x, y, score)
    return Pose(keypoints)


def check(pose: Pose) -> str | None:
    return view_problem(pose, (640, 480), min_score=0.2, min_visible=8)


def hide(pose: Pose, *names: str) -> Pose:
    for name in names:
        pose.keypoints[KEYPOINT_INDEX[name], 2] = 0.02
    return pose


def test_view_check_passes_a_whole_body_and_one_hidden_far_side_ankle():
    assert check(standing()) is None
    assert check(hide(standing(), "right_ankle", "right_knee")) is None
    assert check(hide(standing(), "left_ankle", "right_ankle")) is None  # feet hidden, body not at the edge


def test_view_check_says_what_is_missing():
    cut = standing()
    cut.keypoints[:, 1] += 476 - cut.keypoints[KEYPOINT_INDEX["left_knee"], 1]  # knees at the bottom edge
    assert check(hide(cut, "left_ankle", "right_ankle")) == "step back: feet not in view"
    assert check(hide(standing(), "left_hip", "right_hip")) == "turn to the camera: hips not visible"
    few = hide(standing(), *[n for n in KEYPOINT_INDEX if "hip" not in n and "shoulder" not in n][:10])
    assert check(few) == "step into view: only 7 of 17 body points seen"
    at_side = hide(standing(), *[n for n in KEYPOINT_INDEX if "right" in n], "left_wrist", "left_elbow")
    at_side.keypoints[:, 0] -= at_side.keypoints[at_side.scores > 0.5, 0].min() - 2  # seen ones at the left edge
    assert check(at_side) == "step back: body cut by the left edge"


def test_view_check_takes_unseen_keypoints_beyond_the_edge_for_a_body_cut_by_it():
    """MoveNet places a keypoint it cannot see outside the picture when the body goes on there, and inside it
    when the body hides it. A person cut at the waist is refused; hidden feet inside the picture are not."""
    waist_up = hide(standing(), "left_knee", "right_knee", "left_ankle", "right_ankle")
    waist_up.keypoints[:, 1] += 200  # hips at y = 450, knees and ankles placed below the frame's bottom edge
    assert check(waist_up) == "step back: feet not in view"
    legs_behind_the_body = hide(standing(), "left_knee", "right_knee", "left_ankle", "right_ankle")
    legs_behind_the_body.keypoints[:, 1] += 200
    legs_behind_the_body.keypoints[13:17, 1] = 460  # the same unseen keypoints, inside the frame
    assert check(legs_behind_the_body) is None
    # MoveNet Lightning on tests/data/mhp/10112.jpg of open-mmlab/mmpose (215x180, two people cut at the waist;
    # not in ../shared): named "cobra" before this rule.
    mhp = Pose(np.array(TWO_PEOPLE_CUT_AT_THE_WAIST, np.float32))
    assert view_problem(mhp, (215, 180), min_score=0.2, min_visible=8) == "step back: feet not in view"


TWO_PEOPLE_CUT_AT_THE_WAIST = [
    [153.26, 60.89, 0.57], [163.83, 51.2, 0.8], [147.1, 50.32, 0.75], [174.4, 53.85, 0.7], [138.29, 52.97, 0.7],
    [195.54, 96.13, 0.84], [2.64, 86.44, 0.3], [195.54, 161.31, 0.75], [93.37, 149.86, 0.2], [147.98, 147.21, 0.7],
    [117.15, 146.33, 0.16], [168.24, 185.97, 0.16], [101.29, 187.73, 0.2], [191.14, 172.76, 0.25],
    [27.31, 169.23, 0.12], [147.1, 151.62, 0.06], [145.34, 152.5, 0.09]]


def test_view_hint_reaches_the_overlay_decision(yoga_classifier_with_reference):
    from pose_appliance.classify import LabelSmoother

    smoother = LabelSmoother(yoga_classifier_with_reference.labels, ClassifierConfig())
    assessment = yoga_classifier_with_reference.assess(hide(standing(), "left_hip", "right_hip"), (640, 480))
    assert isinstance(assessment, Assessment) and assessment.scores is None
    assert smoother.update(assessment).message == "turn to the camera: hips not visible"


def test_models_fetched_before_the_reference_existed_still_run_and_say_how_to_fix_it(tmp_path, models_dir,
                                                                                     caplog):
    import shutil

    old = tmp_path / "models"
    old.mkdir()
    for name in ("yoga_classifier.tflite", "yoga_labels.txt"):
        shutil.copyfile(models_dir / name, old / name)
    with caplog.at_level("WARNING"):
        classifier = create_classifier(ClassifierConfig(), old)
    assert classifier is not None and classifier.reference is None
    text = caplog.text
    assert "models fetch" in text and "yoga_train_keypoints" in text and "no open-set check" in text


# ------------------------------------------------------------------------------------------- scripts/evaluate-labels
def test_evaluate_labels_counts_what_run_names(tmp_path, models_dir, shared):
    """The script's figures are those of `run` itself, for folders and for a clone of the tutorial's image set."""
    import json
    import shutil
    import subprocess
    import sys

    repo_root = Path(__file__).resolve().parents[1]
    subset = shared / "data/yoga_cg_subset/test"
    clone = tmp_path / "MoveNet_Yoga"
    for split in ("test", "train"):  # the clone's layout, with a few of the shared images
        for pose in ("chair", "tree"):
            (clone / "yoga_cg" / split / pose).mkdir(parents=True)
            for image in sorted((subset / pose).iterdir())[:2]:
                shutil.copy(image, clone / "yoga_cg" / split / pose / image.name)
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@t"]
    for step in (["init", "-q"], ["add", "."], ["commit", "-qm", "images"]):
        subprocess.run(git + step, check=True)
    coco = tmp_path / "coco"
    coco.mkdir()
    for photo in single_person_coco(shared)[:3]:
        shutil.copy(photo, coco / photo.name)
    video = noisy_slideshow(tmp_path / "chair_then_tree.avi",
                            sorted((subset / "chair").iterdir())[:3] + sorted((subset / "tree").iterdir())[:3], 8)
    report = tmp_path / "report.json"
    finished = subprocess.run(
        [sys.executable, str(repo_root / "scripts/evaluate_labels.py"), "--models-dir", str(models_dir),
         "--json", str(report), f"yoga:{subset}", f"none:{coco}", f"yoga-git:{clone}", f"none:{video}"],
        capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr
    results = json.loads(report.read_text())
    assert [r["set"] for r in results] == [f"yoga:{subset}", f"none:{coco}", f"yoga:{clone}:yoga_cg/test",
                                           f"yoga:{clone}:yoga_cg/train", f"none:{video}"]
    records = run_records(tmp_path, models_dir, subset)
    truth = [r["file"].split("/")[0] for r in records]
    assert results[0]["right"] == sum(r["label"] == t for r, t in zip(records, truth))
    assert results[0]["wrong_count"] == sum(r["label"] not in (None, t) for r, t in zip(records, truth))
    assert results[0]["records"] == 50 and f"yoga:{subset}: {results[0]['right']}/50 named right" in finished.stdout
    assert results[1]["records"] == 3 and results[1]["wrong_count"] == 0
    shown = [r["label"] for r in run_records(tmp_path, models_dir, video)]
    changes = label_changes(shown)
    assert results[4]["records"] == 48 and results[4]["label_changes"] == changes >= 2  # appears, chair -> tree
    assert results[4]["label_changes_per_minute"] == pytest.approx(changes / (48 / 30 / 60))
    assert f"the label changed {changes} times" in finished.stdout and "label_changes" not in results[0]
    for split in results[2:4]:
        assert split["records"] == 4 and split["right"] + split["unnamed"] + split["wrong_count"] == 4
        assert {v["item"].split("/")[0] for v in split["verdicts"]} == {"chair", "tree"}
    status = subprocess.run(git + ["status", "--porcelain", "--ignored"], capture_output=True, text=True, check=True)
    assert status.stdout == ""  # the clone is read with git archive, nothing is written into it
