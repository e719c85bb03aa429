"""The poses a classifier's classes are made of, kept to tell a known pose from an unknown one (pure numpy).

A classifier trained on five yoga poses gives every person one of the five names, with high confidence. A
``PoseReference`` holds the training poses of each class and answers, for a new pose, how typical it is of each
class: the **familiarity** of class *c* is the fraction of held-out training poses of *c* that are at least as
far from the rest of *c* as this pose is (a conformal p-value: 0.3 = as typical as a median-ish training pose,
0.001 = stranger than almost every real example).

How it is built (``PoseReference.build``, from the training keypoints):

1. **Features**: :func:`pose_landmarks` -- hip-centred, pose-size-normalised (x, y) per keypoint, with a
   visibility mask; keypoints scoring below ``VISIBLE_SCORE`` are left out of the pose size and of every
   distance, so an occluded far-side ankle neither stretches nor bends the pose.
2. **Mirror images** of every pose are added (x -> -x, left <-> right): facing left or right is the same pose.
3. **Editing** (Wilson's rule): a training pose whose ``EDIT_NEIGHBOURS`` nearest poses (of other sequences) are
   mostly of other classes is dropped. Those are the frames between poses (standing up, lying down) that the
   yoga data labels with the pose they lead into.
4. **Distance** of a pose to a class: the mean over its ``NEIGHBOURS`` nearest reference poses of the class of
   the **largest single-keypoint deviation** (not the mean: a tree differs from standing by one knee and one
   ankle only, which a mean over 17 keypoints dilutes).
5. **Calibration**: every kept training pose is measured against its class with its own sequence left out
   (frames of one video are near-copies; a new person is what the appliance meets). The sorted distances per
   class are stored as a quantile table. A sequence is told from the file names (:func:`sequence_groups`):
   images of one class folder named like the frames of one video (``guy3_tree085``, ``guy3_tree086``, ...);
   a photo a camera or phone named (``IMG_0001``, ``PXL_20240611_093012123``) is a sequence of its own.

The decision the appliance takes (see :meth:`PoseReference.accepts` and :meth:`PoseReference.choose`): name class
*c* only if *c* is also the nearest class, its familiarity is at least ``classifier.min_familiarity``, and at least
half that of the class the pose is most familiar with. *c* is the classifier's class, or, when the classifier's class
fails that test, the nearest class if the pose is at least twice as near to it as to any other class and its
familiarity is at least ``classifier.min_familiarity``. Either way the pose must show at least half
(``MIN_COVERAGE``) of the keypoints *c*'s nearest reference poses show: a distance is measured over the keypoints
both poses show, and 8 keypoints of a pot plant can lie near a cobra's upper body.
Measured figures are in the issue note and ``docs/architecture.md``.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose_appliance.types import KEYPOINT_NAMES

REFERENCE_VERSION = 1
VISIBLE_SCORE = 0.2
NEIGHBOURS = 5
EDIT_NEIGHBOURS = 7
MIN_SHARED_KEYPOINTS = 6
TORSO_SIZE_MULTIPLIER = 2.5
QUANTILES = 201
RIVAL_RATIO = 0.5  # a class at most this much less familiar than the most familiar one may be named
DISTINCT_RATIO = 2.0  # this much nearer to one class than to any other: named without the rival check
MIN_COVERAGE = 0.5  # a class is named only for a pose that shows at least this share of what its nearest poses show
MAX_FRAME_GAP = 60  # frame numbers further apart are two takes, not one video (the tutorial's frames: up to 29)
_STEPS = np.linspace(0.0, 1.0, QUANTILES)
_STEP_VALUES = _STEPS.tolist()

_LEFT_RIGHT = [KEYPOINT_NAMES.index(name.replace("left", "right") if "left" in name else
                                    name.replace("right", "left")) for name in KEYPOINT_NAMES]
_HIPS, _SHOULDERS = [11, 12], [5, 6]


def pose_landmarks(keypoints: np.ndarray, *, visible_score: float = VISIBLE_SCORE) -> tuple[np.ndarray, np.ndarray]:
    """``(..., 17, 3)`` (x, y, score) pixels -> (``(..., 17, 2)`` normalised (x, y), ``(..., 17)`` visible).

    Centre: the hip mid-point. Size: ``max(2.5 x torso, largest distance of a visible keypoint from the
    centre)``. Hips and shoulders are used whatever their score (MoveNet places them well even when unsure).
    """
    keypoints = np.asarray(keypoints, np.float32)
    xy, visible = keypoints[..., :2], keypoints[..., 2] >= visible_score
    # The floats of mean() and linalg.norm, without their overhead (a third of this function's time per pose).
    hip_mid = (xy[..., _HIPS[0], :] + xy[..., _HIPS[1], :]) / 2
    shoulder_mid = (xy[..., _SHOULDERS[0], :] + xy[..., _SHOULDERS[1], :]) / 2
    centred = xy - hip_mid[..., None, :]
    torso = np.sqrt(np.square(shoulder_mid - hip_mid).sum(axis=-1))
    reach = np.where(visible, np.sqrt(np.square(centred).sum(axis=-1)), 0.0).max(axis=-1)
    size = np.maximum(np.maximum(torso * TORSO_SIZE_MULTIPLIER, reach), 1e-6)
    return (centred / size[..., None, None]).astype(np.float32), visible


def mirrored(keypoints: np.ndarray, width: float = 0.0) -> np.ndarray:
    """The same pose seen in a mirror: x -> ``width`` - x, left and right keypoints swapped. With the width of
    the picture, keypoints found in a picture flipped left to right come back to the picture's own pixels."""
    flipped = np.array(keypoints, np.float32)[..., _LEFT_RIGHT, :]
    flipped[..., 0] = width - flipped[..., 0]
    return flipped


def keypoint_major(features: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 17, 2)``, ``(N, 17)`` -> ``(2, 17, N)``, ``(17, N)`` float32 (1 = visible): the layout
    :func:`largest_deviation` reads, so its reductions run along the long axis (4x faster than over 17 keypoints
    per pose), and visibility multiplies as float32 (twice as fast as bool)."""
    return np.ascontiguousarray(features.transpose(2, 1, 0)), np.ascontiguousarray(visible.T, np.float32)


def largest_deviation(features: np.ndarray, visible: np.ndarray, ref_features: np.ndarray,
                      ref_visible: np.ndarray) -> np.ndarray:
    """Largest keypoint distance between one pose (``(17, 2)``, ``(17,)``) and each of N reference poses (in the
    :func:`keypoint_major` layout), over the keypoints visible in both; ``inf`` where fewer than
    ``MIN_SHARED_KEYPOINTS`` are shared."""
    return deviations_and_shared(features, visible, ref_features, ref_visible)[0]


def deviations_and_shared(features: np.ndarray, visible: np.ndarray, ref_features: np.ndarray,
                          ref_visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(:func:`largest_deviation`, the number of keypoints visible in both (float32)) per reference pose."""
    # All 17 rows, the pose's unseen ones zeroed after: fewer passes over the (17, N) arrays than copying out the
    # seen rows first (0.04 -> 0.028 ms per pose against 1452 reference poses), and the same floats.
    squared = np.subtract(ref_features[0], features[:, 0, None])
    np.square(squared, out=squared)
    dy = np.subtract(ref_features[1], features[:, 1, None])
    np.square(dy, out=dy)
    squared += dy
    squared *= ref_visible
    squared[~visible] = 0.0
    deviation = np.sqrt(squared.max(axis=0, initial=0.0))
    shared = ref_visible[visible].sum(axis=0)
    deviation[shared < MIN_SHARED_KEYPOINTS] = np.inf
    return deviation, shared


def sequence_of(file_name: str) -> str:
    """The sequence a training image belongs to: its name without folder, extension and trailing frame number
    (``chair/girl1_chair070.jpg`` -> ``girl1_chair``)."""
    stem = Path(file_name).stem
    return re.sub(r"[\s_\-.]*\d+$", "", stem) or stem


def frame_number(file_name: str) -> int | None:
    """The trailing number of an image's name (``chair/girl1_chair070.jpg`` -> 70), None without one."""
    match = re.search(r"(\d+)$", Path(file_name).stem)
    return int(match.group(1)) if match else None


def is_camera_name(file_name: str) -> bool:
    """True for a name a camera or phone gives a photo: a DCF counter as cameras write it, upper case with a letter
    or _ in the prefix (``IMG_0001``, ``DSC_1234``, ``DSCN0042``, ``P1010001``; not ``tree0001``, a frame ffmpeg
    extracted from a video) or a time of day at its end (``PXL_20240611_093012123``, ``IMG_20240611_101503``,
    ``20240611_110205``, ``WhatsApp Image 2024-06-11 at 11.12.07``). Each is a shot of its own, however close
    the numbers of two shots are."""
    stem = Path(file_name).stem
    return bool(_DCF_NAME.fullmatch(stem) or _TIME_OF_DAY.search(stem))


_DCF_NAME = re.compile(r"(?!\d{4})[A-Z0-9_]{4}\d{4}")  # case-sensitive: DCF names are upper case
_TIME_OF_DAY = re.compile(r"(?:19|20)\d\d[-_.]?[01]\d[-_.]?[0-3]\d"  # date
                          r"(?:[-_. T]| at )?[0-2]\d[-_.: ]?[0-5]\d[-_.: ]?[0-5]\d\d{0,3}$")  # time, milliseconds


@dataclass
class PoseReference:
    """Reference poses per class and their calibration. Build with :meth:`build`, store with :meth:`save`."""

    classes: list[str]
    features: np.ndarray  # (M, 17, 2) float32, pose_landmarks of the kept (and mirrored) training poses
    visible: np.ndarray  # (M, 17) bool
    targets: np.ndarray  # (M,) class index
    quantiles: np.ndarray  # (C, QUANTILES) held-out distance at quantile i / (QUANTILES - 1)
    source_sha256: str = ""

    def __post_init__(self) -> None:
        self._keypoint_major = keypoint_major(self.features, self.visible)
        self._visible_counts = np.maximum(self.visible.sum(axis=1), 1)
        # The poses of each class as one row, padded with an index past the last pose: examine finds the nearest
        # poses of every class with one argpartition.
        members = [np.flatnonzero(self.targets == c) for c in range(len(self.classes))]
        sizes = np.array([len(m) for m in members], np.int64)
        self._class_poses = np.full((len(members), max(int(sizes.max(initial=0)), 1)), len(self.targets), np.int64)
        for row, poses in zip(self._class_poses, members):
            row[:len(poses)] = poses
        self._class_rows = np.arange(len(members))[:, None]
        self._neighbours = min(NEIGHBOURS, self._class_poses.shape[1])
        self._neighbour_counts = np.maximum(np.minimum(sizes, NEIGHBOURS), 1)
        self._classes_without_poses = np.flatnonzero(sizes == 0)
        self._quantile_tables = self.quantiles.tolist()

    # ------------------------------------------------------------------------------------------- building
    @classmethod
    def build(cls, keypoints: np.ndarray, targets: np.ndarray, classes: list[str], files: list[str],
              *, source_sha256: str = "") -> PoseReference:
        """From training keypoints ``(N, 17, 3)`` (x, y, score pixels), class indices and the image names
        (used to keep the frames of one sequence out of their own calibration)."""
        keypoints = np.asarray(keypoints, np.float32)
        targets = np.asarray(targets, np.int64)
        groups = sequence_groups(targets, files)
        all_keypoints = np.concatenate([keypoints, mirrored(keypoints)])
        all_targets = np.concatenate([targets, targets])
        all_groups = np.concatenate([groups, groups])
        features, visible = pose_landmarks(all_keypoints)
        keep = _edited(features, visible, all_targets, all_groups)
        features, visible = features[keep], visible[keep]
        all_targets, all_groups = all_targets[keep], all_groups[keep]
        # Each kept pose against its class with its own sequence left out calibrates "familiar".
        features_t, visible_t = keypoint_major(features, visible)
        held_out = np.stack([_distances_to_classes(features[i], visible[i], features_t, visible_t, all_targets,
                                                   len(classes), all_groups != all_groups[i])
                             for i in range(len(all_targets))])
        table = np.full((len(classes), QUANTILES), np.inf, np.float32)
        for c in range(len(classes)):
            own = held_out[all_targets == c, c]
            if not (all_targets == c).any():
                raise ValueError(f"class {classes[c]!r} has no reference pose left (too few samples, or all of "
                                 "them look like other classes)")
            if np.isfinite(own).any():
                table[c] = np.quantile(own[np.isfinite(own)], _STEPS)
        return cls(list(classes), features, visible, all_targets, table, source_sha256)

    # ------------------------------------------------------------------------------------------- using
    def distances(self, keypoints: np.ndarray) -> np.ndarray:
        """Distance of one pose ``(17, 3)`` to each class (``inf`` for a class it shares too few keypoints with)."""
        return self.examine(keypoints)[0]

    def examine(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(:meth:`distances`, :meth:`impute`, coverage) of one pose, comparing it with the reference poses once.

        Coverage, per class: the share of the keypoints seen in the class's ``NEIGHBOURS`` nearest reference poses
        that this pose shows too (mean over those poses). A distance is measured over the keypoints both poses
        show, so 8 keypoints MoveNet finds in a pot plant can lie near a class's upper body; coverage says how
        much of the class's poses that comparison saw."""
        keypoints = np.array(keypoints, np.float32)
        features, visible = pose_landmarks(keypoints)
        deviations, shared = deviations_and_shared(features, visible, *self._keypoint_major)
        # Each class's row of deviations, NaN past its last pose: argpartition puts NaN last, so a class with fewer
        # than NEIGHBOURS poses gets all of them (and padding, masked out of the means).
        by_class = np.append(deviations, np.nan)[self._class_poses]
        order = np.argpartition(by_class, self._neighbours - 1, axis=1)[:, :self._neighbours]
        nearest = self._class_poses[self._class_rows, order]
        is_pose = nearest < len(deviations)
        sums = np.where(is_pose, by_class[self._class_rows, order], 0.0).sum(axis=1)
        distances = (sums / self._neighbour_counts).astype(np.float32)
        distances[self._classes_without_poses] = np.inf
        # mode="clip": padding reads the last pose, masked out as its deviation is
        shown = shared.take(nearest, mode="clip") / self._visible_counts.take(nearest, mode="clip")
        coverage = (np.where(is_pose, shown, 0.0).sum(axis=1) / self._neighbour_counts).astype(np.float32)
        if not visible.all() and np.isfinite(deviations).any():
            keypoints = self._filled(keypoints, features, visible, int(np.argmin(deviations)))
        return distances, keypoints, coverage

    def familiarity(self, keypoints: np.ndarray) -> np.ndarray:
        """Per class, the fraction of held-out training poses of the class at least this far from it (0..1)."""
        return self.familiarity_of(self.distances(keypoints))

    def familiarity_of(self, distances: np.ndarray) -> np.ndarray:
        """:meth:`familiarity` for class distances already computed."""
        return np.array([1.0 - _quantile_of(d, table) if math.isfinite(d) else 0.0
                         for d, table in zip(np.asarray(distances).tolist(), self._quantile_tables)], np.float32)

    def accepts(self, class_index: int, distances: np.ndarray, min_familiarity: float, *,
                familiarity: np.ndarray | None = None) -> bool:
        """True when the classifier's class is also the nearest class, its familiarity is at least
        ``min_familiarity`` (0 = always true), and no other class finds the pose more than
        ``1 / RIVAL_RATIO`` times as typical. ``familiarity``: :meth:`familiarity_of` the distances, when the
        caller has it already.

        Nearest and familiar both, because classes differ in spread: a class whose training poses vary a lot (cobra,
        seen from all sides) finds almost any pose "typical", while the raw nearest class favours tight classes.
        A rival class only counts when clearly more familiar: familiarity tables differ in shape (warrior's held-out
        distances are bimodal, so every pose between them scores a flat 0.2 for warrior), and a strict "most
        familiar" rule refused chairs 0.12 from chair (familiarity 0.18) for that plateau."""
        if min_familiarity <= 0.0:
            return True
        if familiarity is None:
            familiarity = self.familiarity_of(distances)
        own = familiarity[class_index]
        return (int(np.argmin(distances)) == class_index and own >= min_familiarity
                and own >= RIVAL_RATIO * float(familiarity.max()))

    def choose(self, class_index: int, distances: np.ndarray, min_familiarity: float, *,
               familiarity: np.ndarray | None = None, coverage: np.ndarray | None = None,
               views: list[np.ndarray] | None = None) -> int | None:
        """The class to name for a pose the classifier calls ``class_index``, or None for no name (``familiarity``
        as for :meth:`accepts`; ``coverage`` from :meth:`examine`: a class whose coverage is below
        ``MIN_COVERAGE`` is never named, unless ``min_familiarity`` is 0, which turns the open-set check off).
        ``views``: when ``distances`` is the mean over several views of one pose (a photo and its mirror image),
        each view's own distances; the distinct exception below must then hold in every view.

        The classifier's class when :meth:`accepts` takes it. Otherwise the nearest class, when the pose is at
        least ``DISTINCT_RATIO`` times nearer to it than to any other class and its familiarity is at least
        ``min_familiarity``. A pose that distinct needs no rival check: cobra's training poses (seen from every
        side) make cobra a little familiar with almost anything, which refused a real tree photo 0.18 from tree
        and 0.45 from cobra. And the classifier is overruled: it calls real Warrior III photos cobra and a real tree
        chair, whose training poses put them 2.5-4x nearer to warrior / tree. Without the ratio the wide classes
        would claim sitting and lying people the classifier rightly put elsewhere."""
        if familiarity is None:
            familiarity = self.familiarity_of(distances)
        chosen = None
        if self.accepts(class_index, distances, min_familiarity, familiarity=familiarity):
            chosen = class_index
        else:
            nearest = int(np.argmin(distances))
            if (familiarity[nearest] >= min_familiarity
                    and all(_distinct(d, nearest) for d in (distances, *(views or [])))):
                chosen = nearest
        if chosen is not None and min_familiarity > 0.0 and coverage is not None and coverage[chosen] < MIN_COVERAGE:
            return None
        return chosen

    def impute(self, keypoints: np.ndarray) -> np.ndarray:
        """The pose with its not-visible keypoints replaced by those of the nearest reference pose (placed at
        this pose's hips and size); visible keypoints and all scores are unchanged.

        A far-side ankle MoveNet could not see is otherwise a random point the classifier takes at face
        value."""
        return self.examine(keypoints)[1]

    def _filled(self, keypoints: np.ndarray, features: np.ndarray, visible: np.ndarray, nearest: int
                ) -> np.ndarray:
        xy = keypoints[:, :2]
        hip_mid = (xy[_HIPS[0]] + xy[_HIPS[1]]) / 2
        # The scale that maps normalised features back to pixels, from the visible keypoints (norms taken as
        # linalg.norm takes them, without its overhead).
        visible_xy, visible_features = (xy[visible] - hip_mid).ravel(), features[visible].ravel()
        scale = (float(np.sqrt(visible_xy.dot(visible_xy)))
                 / max(float(np.sqrt(visible_features.dot(visible_features))), 1e-6))
        unseen = ~visible
        keypoints[unseen, :2] = hip_mid + self.features[nearest, unseen] * scale
        return keypoints

    # ------------------------------------------------------------------------------------------- files
    def save(self, path: str | Path) -> None:
        """Write ``path`` whole or not at all: through a temp file of this call's own in the same folder, so a
        crash leaves the old file and two processes caching one CSV never write into one temp file."""
        path = Path(path)
        temp = path.with_name(f".{path.name}.{os.urandom(8).hex()}.tmp")
        # O_EXCL: this call's own file. Mode 0666 less the umask, as any new file (mkstemp's 0600 would hide it
        # from an appliance run as another user).
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                np.savez_compressed(handle, version=np.int64(REFERENCE_VERSION), classes=np.array(self.classes),
                                    features=self.features.astype(np.float16), visible=self.visible,
                                    targets=self.targets.astype(np.int16), quantiles=self.quantiles,
                                    source_sha256=np.array(self.source_sha256))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    @classmethod
    def load(cls, path: str | Path) -> PoseReference:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                version = int(data["version"])
                if version != REFERENCE_VERSION:
                    raise ValueError(f"{path}: reference version {version}, this pose-appliance reads "
                                     f"{REFERENCE_VERSION} (build it again: pose-appliance models fetch, or "
                                     "train-classifier)")
                return cls([str(c) for c in data["classes"]], data["features"].astype(np.float32),
                           data["visible"].astype(bool), data["targets"].astype(np.int64),
                           data["quantiles"].astype(np.float32), str(data["source_sha256"]))
        except Exception as exc:  # a damaged file fails in zipfile, zlib, numpy or here, in many ways
            if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
                raise
            raise ValueError(f"{path}: not a pose reference file ({type(exc).__name__}: {exc})") from None


def reference_from_csv(csv_path: str | Path, cache_dir: str | Path | None = None) -> PoseReference:
    """The reference of a tutorial-format keypoint CSV, cached as ``<csv stem>.reference-v1.npz`` beside it (or
    in ``cache_dir``) and rebuilt when the CSV's bytes change. An unwritable folder only costs the cache."""
    csv_path = Path(csv_path)
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    cache = Path(cache_dir or csv_path.parent) / f"{csv_path.stem}.reference-v{REFERENCE_VERSION}.npz"
    if cache.is_file():
        try:
            cached = PoseReference.load(cache)
            if cached.source_sha256 == digest:
                return cached
        except ValueError:
            pass
    from pose_appliance.classify.keypoint_csv import read_keypoint_csv

    samples = read_keypoint_csv(csv_path)
    reference = PoseReference.build(samples.keypoints, samples.targets, samples.classes, samples.files,
                                    source_sha256=digest)
    with contextlib.suppress(OSError):  # an unwritable folder only costs the cache
        reference.save(cache)
    return reference


def _quantile_of(distance: float, table: list[float]) -> float:
    """``np.interp(distance, table, _STEPS, left=0.0, right=1.0)`` in Python floats, the same double arithmetic: for
    a handful of classes numpy's per-call overhead was 6x the arithmetic."""
    above = bisect.bisect_right(table, distance)  # table[above - 1] <= distance < table[above]
    if above == 0:
        return 0.0
    if above == len(table):
        return 1.0
    below = above - 1
    slope = (_STEP_VALUES[above] - _STEP_VALUES[below]) / (table[above] - table[below])
    return slope * (distance - table[below]) + _STEP_VALUES[below]


def _distinct(distances: np.ndarray, class_index: int) -> bool:
    """Class ``class_index`` is the nearest, at least ``DISTINCT_RATIO`` times nearer than any other class."""
    runner_up = float(np.partition(distances, 1)[1]) if len(distances) > 1 else float("inf")
    return int(np.argmin(distances)) == class_index and distances[class_index] * DISTINCT_RATIO <= runner_up


def sequence_groups(targets: np.ndarray, files: list[str]) -> np.ndarray:
    """Sequence ids of training images. A sequence: the frames of one video, i.e. images of one class folder that
    share a :func:`sequence_of` name and whose frame numbers lie at most ``MAX_FRAME_GAP`` apart (the tutorial's
    ``guy3_tree085``, ``guy3_tree086``, ...). A photo a camera or phone named (:func:`is_camera_name`) is an
    image of its own, and so is every image of a class whose images would all be one sequence."""
    targets = np.asarray(targets)
    keys: list[object] = [None] * len(files)  # (class, sequence name or file, run or image number)
    runs: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for i, (target, file) in enumerate(zip(targets, files)):
        number = frame_number(file)
        if number is None or is_camera_name(file):
            keys[i] = (int(target), file, i)
        else:
            runs.setdefault((int(target), sequence_of(file)), []).append((number, i))
    for (target, name), frames in runs.items():
        run, previous = 0, None
        for number, i in sorted(frames):
            if previous is not None and number - previous > MAX_FRAME_GAP:
                run += 1
            keys[i], previous = (target, name, -1 - run), number
    for c in np.unique(targets):
        members = np.flatnonzero(targets == c).tolist()
        if len({keys[m] for m in members}) < 2:
            for m in members:
                keys[m] = (int(c), files[m], m)
    ids = {key: index for index, key in enumerate(dict.fromkeys(keys))}
    return np.array([ids[key] for key in keys], np.int64)


def _distances_to_classes(features: np.ndarray, visible: np.ndarray, ref_features: np.ndarray,
                          ref_visible: np.ndarray, ref_targets: np.ndarray, class_count: int,
                          allowed: np.ndarray) -> np.ndarray:
    deviations = largest_deviation(features, visible, ref_features[..., allowed], ref_visible[:, allowed])
    targets = ref_targets[allowed]
    return np.array([_mean_over(deviations, _nearest(deviations, np.flatnonzero(targets == c)))
                     for c in range(class_count)], np.float32)


def _nearest(deviations: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Indices of the ``NEIGHBOURS`` reference poses among ``members`` with the smallest deviations (any order)."""
    if len(members) <= NEIGHBOURS:
        return members
    return members[np.argpartition(deviations[members], NEIGHBOURS - 1)[:NEIGHBOURS]]


def _mean_over(deviations: np.ndarray, nearest: np.ndarray) -> float:
    """A pose's distance to a class: the mean deviation of its ``nearest`` poses of that class (``inf`` for none)."""
    return float(deviations[nearest].mean()) if len(nearest) else float("inf")


def _edited(features: np.ndarray, visible: np.ndarray, targets: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Wilson editing: keep a pose when most of its nearest poses from other sequences share its class."""
    keep = np.ones(len(targets), bool)
    features_t, visible_t = keypoint_major(features, visible)
    for i in range(len(targets)):
        others = groups != groups[i]
        deviations = largest_deviation(features[i], visible[i], features_t[..., others], visible_t[:, others])
        nearest = np.argsort(deviations, kind="stable")[:EDIT_NEIGHBOURS]
        agree = (targets[others][nearest] == targets[i]).mean()
        keep[i] = agree > 0.5
    # A class that editing would empty keeps all its poses (its neighbours may simply be few).
    for c in np.unique(targets):
        if not keep[targets == c].any():
            keep[targets == c] = True
    return keep
