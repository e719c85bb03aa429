"""LabelSmoother: per-candidate EMA (the classes and "no label"), threshold and hysteresis."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pose_appliance.classify import Assessment, LabelSmoother
from pose_appliance.config import ClassifierConfig

LABELS = ["chair", "cobra", "dog", "tree", "warrior"]
NOTHING = Assessment(None)  # a pose unlike every class


def scores(**named: float) -> Assessment:
    values = np.zeros(len(LABELS), np.float32)
    for name, value in named.items():
        values[LABELS.index(name)] = value
    return Assessment(values)


def test_a_view_hint_gives_no_label_and_says_what_is_missing():
    smoother = LabelSmoother(LABELS, ClassifierConfig())
    decision = smoother.update(Assessment(None, hint="step back: feet not in view"))
    assert decision.label is None and decision.message == "step back: feet not in view" and decision.top == []


def test_no_label_takes_part_in_the_hysteresis():
    # One unfamiliar frame in a held pose does not drop the label; a run of them does, and one familiar frame
    # among unfamiliar ones does not bring it back.
    smoother = LabelSmoother(LABELS, ClassifierConfig())
    for _ in range(10):
        smoother.update(scores(tree=0.95, dog=0.05))
    assert smoother.update(NOTHING).label == "tree"
    assert smoother.update(scores(tree=0.95)).label == "tree"
    labels = [smoother.update(NOTHING).label for _ in range(8)]
    assert labels[0] == "tree" and set(labels[-4:]) == {None}
    assert smoother.update(scores(tree=0.95)).label is None


def test_label_appears_only_once_the_smoothed_score_reaches_the_threshold():
    smoother = LabelSmoother(LABELS, ClassifierConfig(smoothing=0.3, min_label_score=0.6))
    decisions = [smoother.update(scores(tree=0.9, dog=0.1)) for _ in range(5)]
    # EMA from 0: 0.27, 0.459, 0.591, 0.684 -> shown from the fourth frame.
    assert [d.label for d in decisions] == [None, None, None, "tree", "tree"]
    assert decisions[3].score == pytest.approx(0.684, abs=1e-3)
    assert decisions[0].top[0] == ("tree", pytest.approx(0.27)) and decisions[0].message is None


def alternating(smoother: LabelSmoother, frames: int) -> list[str | None]:
    """Noisy frames whose raw winner flips every frame between tree and warrior."""
    labels = []
    for i in range(frames):
        frame = scores(tree=0.9, warrior=0.1) if i % 2 == 0 else scores(tree=0.35, warrior=0.65)
        labels.append(smoother.update(frame).label)
    return labels


def test_alternating_noisy_scores_do_not_flicker_the_label():
    labels = alternating(LabelSmoother(LABELS, ClassifierConfig()), 60)
    first = next(i for i, label in enumerate(labels) if label is not None)
    assert first < 10
    assert set(labels[first:]) == {"tree"}


def test_without_smoothing_and_hysteresis_the_same_frames_do_flicker():
    # The control for the test above: the raw scores alone would change the label on every frame.
    raw = LabelSmoother(LABELS, ClassifierConfig(smoothing=1.0, hysteresis=0.0))
    labels = alternating(raw, 20)
    changes = sum(1 for a, b in itertools.pairwise(labels) if a != b)
    assert changes >= 15


def test_a_real_change_of_pose_switches_the_label_after_a_few_frames():
    smoother = LabelSmoother(LABELS, ClassifierConfig())
    for _ in range(10):
        smoother.update(scores(tree=0.95, dog=0.05))
    labels = [smoother.update(scores(dog=0.95, tree=0.05)).label for _ in range(10)]
    switch = labels.index("dog")
    assert 1 <= switch <= 5 and set(labels[:switch]) <= {"tree", None} and set(labels[switch:]) == {"dog"}


def test_shown_label_is_dropped_when_its_score_falls_well_below_the_threshold():
    smoother = LabelSmoother(LABELS, ClassifierConfig())
    for _ in range(10):
        smoother.update(scores(chair=0.9, cobra=0.1))
    spread = Assessment(np.full(len(LABELS), 0.2, np.float32))
    labels = [smoother.update(spread).label for _ in range(10)]
    assert labels[0] == "chair" and labels[-1] is None


def test_top_k():
    smoother = LabelSmoother(LABELS, ClassifierConfig(top_k=2))
    for _ in range(8):
        decision = smoother.update(scores(cobra=0.7, dog=0.2, tree=0.1))
    assert [name for name, _ in decision.top] == ["cobra", "dog"] and decision.label == "cobra"


def test_wrong_number_of_scores_is_an_error():
    with pytest.raises(ValueError, match="3 scores for 5 labels"):
        LabelSmoother(LABELS, ClassifierConfig()).update(Assessment(np.ones(3)))


def test_a_still_image_is_labelled_on_its_own_scores():
    smoother = LabelSmoother(["chair", "cobra", "tree"], ClassifierConfig())
    for _ in range(10):
        smoother.update(Assessment(np.array([0.9, 0.05, 0.05])))
    decision = smoother.update(Assessment(np.array([0.1, 0.1, 0.8])), still=True)
    assert (decision.label, round(decision.score, 3)) == ("tree", 0.8)
    assert smoother.update(Assessment(np.array([0.2, 0.7, 0.1])), still=True).label == "cobra"
    assert smoother.update(NOTHING, still=True).label is None


def timed(smoother: LabelSmoother, frames: list[Assessment], start: float = 0.0, fps: float = 30.0
          ) -> list[str | None]:
    return [smoother.update(frame, timestamp=start + i / fps).label for i, frame in enumerate(frames)]


def test_a_held_label_stays_through_a_short_lost_pose():
    """A held pose that the open-set check refuses for 0.3 s (its view changing) keeps its label; without
    timestamps, or with the grace off, the label blinks."""
    frames = [scores(tree=0.95)] * 30 + [NOTHING] * 9 + [scores(tree=0.95)] * 10
    assert timed(LabelSmoother(LABELS, ClassifierConfig()), frames)[20:] == ["tree"] * 29
    for smoother, stamps in ((LabelSmoother(LABELS, ClassifierConfig()), False),
                             (LabelSmoother(LABELS, ClassifierConfig(label_grace_seconds=0.0)), True)):
        labels = timed(smoother, frames) if stamps else [smoother.update(frame).label for frame in frames]
        assert None in labels[30:39] and labels[-1] == "tree"


def test_a_lost_label_stays_no_longer_than_the_grace_nor_than_it_was_shown():
    grace = ClassifierConfig().label_grace_seconds
    held = timed(LabelSmoother(LABELS, ClassifierConfig()), [scores(tree=0.95)] * 60 + [NOTHING] * 60)
    last = max(i for i, label in enumerate(held) if label == "tree")
    assert held[last + 1:] == [None] * (len(held) - last - 1)
    assert 60 + grace * 30 - 1 <= last <= 60 + grace * 30 + 2  # kept at frame 60 by the hysteresis, then grace
    # A label shown on 2 frames only (a false name flashing up) is kept for at most 2 more.
    flash = [NOTHING] * 5 + [scores(cobra=1.0)] * 4 + [NOTHING] * 20
    labels = timed(LabelSmoother(LABELS, ClassifierConfig()), flash)
    assert labels.count("cobra") <= 2 + 2 + 1 and labels[-10:] == [None] * 10


def test_another_pose_replaces_a_label_in_its_grace_at_once():
    frames = [scores(tree=0.95)] * 30 + [NOTHING] * 3 + [scores(warrior=0.95)] * 10
    labels = timed(LabelSmoother(LABELS, ClassifierConfig()), frames)
    without_grace = timed(LabelSmoother(LABELS, ClassifierConfig(label_grace_seconds=0.0)), frames)
    first = labels.index("warrior")
    assert first == without_grace.index("warrior") and set(labels[30:first]) == {"tree"}


def test_a_clock_that_goes_back_neither_sticks_the_label_nor_loses_the_grace():
    # e.g. a video opened again: its media time starts over from the clock
    smoother = LabelSmoother(LABELS, ClassifierConfig())
    timed(smoother, [scores(tree=0.95)] * 30, start=100.0)
    assert timed(smoother, [NOTHING] * 3, start=101.0) == ["tree"] * 3  # in its grace
    assert timed(smoother, [NOTHING] * 30, start=50.0)[-1] is None
    smoother = LabelSmoother(LABELS, ClassifierConfig())
    timed(smoother, [scores(tree=0.95)] * 30, start=100.0)
    timed(smoother, [scores(tree=0.95)] * 30, start=50.0)
    assert timed(smoother, [NOTHING] * 9, start=51.0) == ["tree"] * 9


def test_a_still_image_has_no_grace():
    smoother = LabelSmoother(LABELS, ClassifierConfig())
    timed(smoother, [scores(tree=0.95)] * 30)
    assert smoother.update(NOTHING, still=True, timestamp=1.01).label is None
