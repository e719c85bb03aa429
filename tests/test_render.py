"""The overlay renderer on a real frame: dots and lines where the keypoints are, text boxes, RGBA transparency.

``result`` (conftest: a frame of the tfjs MoveNet test clip with its golden keypoints, labelled by the real yoga
classifier) is also what the display tests draw for their screenshots.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import KEYPOINT_SCORE, keypoint_xy

from pose_appliance.config import OverlayConfig
from pose_appliance.render import OverlayRenderer
from pose_appliance.render.overlay_renderer import KEYPOINT_COLOR, LINE_COLOR, TEXT_COLOR
from pose_appliance.types import KEYPOINT_INDEX, FrameResult, LabelDecision, Pose


def test_dots_are_drawn_on_visible_keypoints_only(result):
    result.pose.keypoints[KEYPOINT_INDEX["right_ankle"], 2] = 0.1  # below keypoint_threshold 0.3
    try:
        canvas = result.frame.image.copy()
        OverlayRenderer(OverlayConfig()).draw(canvas, result)
    finally:
        result.pose.keypoints[KEYPOINT_INDEX["right_ankle"], 2] = KEYPOINT_SCORE
    for name in ("left_hip", "left_knee", "left_ankle", "right_hip", "left_shoulder"):
        x, y = keypoint_xy(result, name)
        assert tuple(canvas[y, x]) == KEYPOINT_COLOR, name
    x, y = keypoint_xy(result, "right_ankle")
    assert tuple(canvas[y, x]) == tuple(result.frame.image[y, x])  # leaf keypoint: no dot, no line


def test_skeleton_line_between_two_keypoints(result):
    canvas = result.frame.image.copy()
    OverlayRenderer(OverlayConfig(keypoints=False, label=False, fps=False)).draw(canvas, result)
    (x0, y0), (x1, y1) = keypoint_xy(result, "left_hip"), keypoint_xy(result, "left_knee")
    mid = canvas[(y0 + y1) // 2, (x0 + x1) // 2]
    assert tuple(mid) == LINE_COLOR
    changed = np.any(canvas != result.frame.image, axis=2)
    assert not changed[:40].any()  # no text boxes when label and fps are off


def test_label_and_fps_boxes_sit_in_the_top_corners(result):
    canvas = result.frame.image.copy()
    OverlayRenderer(OverlayConfig(skeleton=False, keypoints=False)).draw(canvas, result)
    changed = np.any(canvas != result.frame.image, axis=2)
    h, w = changed.shape
    assert changed[:60, : w // 3].any() and changed[:60, -w // 4:].any()
    assert not changed[h // 4:].any()
    white = np.all(canvas[:60] == TEXT_COLOR, axis=2)
    assert white[:, : w // 3].sum() > 30 and white[:, -w // 4:].sum() > 10


def test_message_is_written_when_there_is_no_label(result):
    def top_left_box(decision):
        canvas = np.zeros_like(result.frame.image)
        labelled = FrameResult(frame=result.frame, pose=None, decision=decision, fps=result.fps)
        OverlayRenderer(OverlayConfig(fps=False)).draw(canvas, labelled)
        return np.flatnonzero(np.any(canvas[:60] == TEXT_COLOR, axis=(0, 2)))

    nothing = top_left_box(LabelDecision(label=None))
    message = top_left_box(LabelDecision(label=None, message="show your whole body"))
    assert nothing.size == 0
    assert message.size and message.max() > 200  # a long message, wider than "chair 90%"


def test_scale_and_offset_map_frame_pixels_to_the_canvas(result):
    canvas = np.zeros((1300, 1300, 3), np.uint8)
    OverlayRenderer(OverlayConfig(label=False, fps=False)).draw(canvas, result, scale=2.0, offset=(40, 60))
    for name in ("nose", "left_hip", "right_knee"):
        x, y = keypoint_xy(result, name, scale=2.0, offset=(40, 60))
        assert tuple(canvas[y, x]) == KEYPOINT_COLOR, name


def test_rgba_canvas_stays_transparent_where_nothing_is_drawn(result):
    h, w = result.frame.image.shape[:2]
    canvas = np.zeros((h, w, 4), np.uint8)
    OverlayRenderer(OverlayConfig()).draw(canvas, result)
    x, y = keypoint_xy(result, "left_hip")
    assert tuple(canvas[y, x]) == (*KEYPOINT_COLOR, 255)
    assert canvas[h - 5, 5, 3] == 0 and canvas[h // 2, 5, 3] == 0
    assert 0 < canvas[10, 10, 3] < 255  # the label box is half transparent over the camera picture


def test_rejects_a_canvas_it_cannot_draw_on(result):
    with pytest.raises(ValueError, match="HxWx3"):
        OverlayRenderer(OverlayConfig()).draw(np.zeros((10, 10), np.uint8), result)


def test_no_fps_box_before_a_rate_is_known(result):
    """The first frame has no frame rate yet: no "0 fps", no box at all in the top-right corner."""
    canvas = result.frame.image.copy()
    first = FrameResult(frame=result.frame, pose=None, decision=LabelDecision(label=None), fps=None)
    OverlayRenderer(OverlayConfig()).draw(canvas, first)
    assert np.array_equal(canvas, result.frame.image)


def label_overlay(result, label: str, renderer: OverlayRenderer | None = None) -> np.ndarray:
    canvas = np.zeros_like(result.frame.image)
    labelled = FrameResult(frame=result.frame, pose=None, decision=LabelDecision(label=label, score=0.9), fps=None)
    (renderer or OverlayRenderer(OverlayConfig())).draw(canvas, labelled)
    return canvas


def test_labels_in_letters_the_font_lacks_are_drawn_without_accents_not_as_question_marks(result):
    # Class names come from folder names. OpenCV's Hershey font draws ASCII only (4.11, the Pi's) or also
    # Latin, Cyrillic (5.x); whatever it lacks it draws as "?". Tree pose in Sanskrit, then "tree" in full-width:
    shown = label_overlay(result, "Vṛkṣāsana")
    assert not any(np.array_equal(shown, label_overlay(result, asked)) for asked in ("V?k?āsana", "V?k??sana"))
    assert any(np.array_equal(shown, label_overlay(result, ascii_)) for ascii_ in ("Vrksāsana", "Vrksasana"))
    assert np.array_equal(label_overlay(result, "\uff54\uff52\uff45\uff45"), label_overlay(result, "tree"))


def test_a_label_that_cannot_be_shown_exactly_is_logged_once(result, caplog):
    renderer = OverlayRenderer(OverlayConfig())
    for _ in range(3):
        shown = label_overlay(result, "木のポーズ", renderer)
    assert np.array_equal(shown, label_overlay(result, "?????"))  # no letters to fall back on: nothing better
    warnings = [m for m in caplog.messages if "木のポーズ" in m]
    assert len(warnings) == 1 and "'?????'" in warnings[0], caplog.messages
    label_overlay(result, "tree", renderer)
    assert len(caplog.messages) == 1


def test_rgba_line_edges_keep_the_line_colour_with_partial_alpha(result):
    # The DRM overlay plane blends straight (not pre-multiplied) alpha: an edge pixel must be the line's colour,
    # only less opaque, or the line gets a dark fringe over a bright picture.
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[KEYPOINT_INDEX["left_shoulder"]] = (40, 50, KEYPOINT_SCORE)
    keypoints[KEYPOINT_INDEX["right_shoulder"]] = (280, 190, KEYPOINT_SCORE)
    posed = FrameResult(frame=result.frame, pose=Pose(keypoints), decision=LabelDecision(label=None), fps=None)
    h, w = result.frame.image.shape[:2]
    canvas = np.zeros((h, w, 4), np.uint8)
    OverlayRenderer(OverlayConfig(keypoints=False, label=False, fps=False)).draw(canvas, posed)
    alpha = canvas[..., 3]
    edge = canvas[(alpha > 0) & (alpha < 255)]
    assert len(edge) > 100
    assert np.all(edge[:, :3] == LINE_COLOR), edge[:3]
    assert np.all(canvas[alpha == 255][:, :3] == LINE_COLOR) and np.all(canvas[alpha == 0] == 0)
    rgb = result.frame.image.copy()  # the same line on an RGB canvas: the same pixels, the same coverage
    OverlayRenderer(OverlayConfig(keypoints=False, label=False, fps=False)).draw(rgb, posed)
    assert np.array_equal(alpha > 0, np.any(rgb != result.frame.image, axis=2))


def test_a_label_with_decomposed_accents_is_drawn_as_its_composed_letters(result, monkeypatch, caplog):
    """A class folder named on a Mac comes back decomposed (NFD: "a" + U+0301): drawn as the composed "á" where
    the font has it, else without the accent, never with a "?" for the accent."""
    import unicodedata

    import cv2

    import pose_appliance.render.overlay_renderer as overlay_renderer

    decomposed = unicodedata.normalize("NFD", "árbol")
    assert np.array_equal(label_overlay(result, decomposed), label_overlay(result, "árbol"))
    if overlay_renderer._opencv_draws(cv2, "á"):  # OpenCV 5: drawn exactly, nothing to log
        assert not caplog.messages
    # OpenCV 4 (the Pi's Bookworm) draws ASCII only; a mark no letter composes with ("q" + dot above) is dropped.
    monkeypatch.setattr(overlay_renderer, "_opencv_draws", lambda cv2, char: char.isascii())
    renderer = OverlayRenderer(OverlayConfig())
    assert renderer._shown_label(cv2, decomposed) == "arbol"
    assert renderer._shown_label(cv2, "q\u0307ara") == "qara"
