"""Labelled keypoints, and the pose-classification tutorial's CSV format for them.

The tutorial CSV has a header ``file_name``, then 17 x ``<keypoint>_x, <keypoint>_y, <keypoint>_score``, then
``class_no, class_name``. **Its column names are swapped**: ``*_x`` holds the row (y) pixel coordinate and ``*_y``
the column (x) -- the tutorial wrote MoveNet's (y, x) output under x/y names. This module reads and writes that
exact convention, so files interchange with the tutorial and the published yoga data, and converts to our
``(x, y, score)`` rows at the boundary.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose_appliance.types import KEYPOINT_NAMES


@dataclass
class KeypointSet:
    """Samples for a classifier: ``keypoints (N, 17, 3)`` of (x, y, score) pixels, ``targets (N,)`` indices into
    ``classes``, and the source file of each sample."""

    classes: list[str]
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 17, 3), np.float32))
    targets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    files: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, indices: np.ndarray) -> KeypointSet:
        indices = np.asarray(indices, dtype=np.int64)
        return KeypointSet(list(self.classes), self.keypoints[indices], self.targets[indices],
                           [self.files[i] for i in indices])

    def counts(self) -> dict[str, int]:
        return {name: int((self.targets == i).sum()) for i, name in enumerate(self.classes)}


def csv_header() -> list[str]:
    columns = ["file_name"]
    for name in KEYPOINT_NAMES:
        columns += [f"{name}_x", f"{name}_y", f"{name}_score"]
    return columns + ["class_no", "class_name"]


def read_keypoint_csv(path: str | Path) -> KeypointSet:
    """Read a tutorial-format CSV. Classes are ordered by ``class_no``. Raises ValueError naming the file."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read keypoint CSV: {exc}") from None
    if not rows:
        raise ValueError(f"{path}: empty file, expected the tutorial's keypoint CSV header")
    header = [column.strip() for column in rows[0]]
    missing = [column for column in csv_header() if column not in header]
    if missing:
        raise ValueError(f"{path}: not a keypoint CSV in the tutorial format (missing columns "
                         f"{', '.join(missing[:3])}{'...' if len(missing) > 3 else ''})")
    at = {column: header.index(column) for column in csv_header()}
    # Tutorial convention: <kp>_x is y, <kp>_y is x.
    y_columns = [at[f"{name}_x"] for name in KEYPOINT_NAMES]
    x_columns = [at[f"{name}_y"] for name in KEYPOINT_NAMES]
    score_columns = [at[f"{name}_score"] for name in KEYPOINT_NAMES]
    keypoints, class_numbers, class_names, files = [], [], [], []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        try:
            values = np.array([[float(row[x]), float(row[y]), float(row[s])]
                               for x, y, s in zip(x_columns, y_columns, score_columns)], np.float32)
            class_numbers.append(int(row[at["class_no"]]))
        except (ValueError, IndexError):
            raise ValueError(f"{path}:{line_number}: expected numbers in every keypoint column and an integer "
                             "class_no") from None
        keypoints.append(values)
        class_names.append(row[at["class_name"]].strip())
        files.append(row[at["file_name"]].strip())
    if not keypoints:
        raise ValueError(f"{path}: no samples below the header")
    classes: dict[int, str] = {}
    for number, name in zip(class_numbers, class_names):
        if classes.setdefault(number, name) != name:
            raise ValueError(f"{path}: class_no {number} is both {classes[number]!r} and {name!r}")
    ordered = [classes[number] for number in sorted(classes)]
    if len(set(ordered)) != len(ordered):
        raise ValueError(f"{path}: one class_name has several class_no values")
    index = {name: i for i, name in enumerate(ordered)}
    return KeypointSet(ordered, np.stack(keypoints), np.array([index[n] for n in class_names], np.int64), files)


def write_keypoint_csv(path: str | Path, samples: KeypointSet) -> None:
    """Write samples in the tutorial format (``*_x`` = y, ``*_y`` = x), readable by :func:`read_keypoint_csv`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_header())
        for keypoints, target, file_name in zip(samples.keypoints, samples.targets, samples.files):
            cells = [file_name]
            for x, y, score in keypoints:
                cells += [f"{y:.6g}", f"{x:.6g}", f"{score:.6g}"]
            writer.writerow(cells + [int(target), samples.classes[int(target)]])
