"""Draws one frame's overlay onto an RGB or RGBA canvas in place: skeleton, keypoint dots, label with the hold
time, repetitions, FPS."""

from __future__ import annotations

import logging
import unicodedata

import numpy as np

from pose_appliance.config import OverlayConfig
from pose_appliance.types import SKELETON_EDGES, FrameResult

# Colours are RGB; on an RGBA canvas (the DRM overlay plane, straight alpha) they are drawn opaque, and the
# skeleton's anti-aliased edges keep the colour at partial alpha.
LINE_COLOR = (0, 224, 255)
KEYPOINT_COLOR = (255, 48, 48)
TEXT_COLOR = (255, 255, 255)
TEXT_BOX_COLOR = (0, 0, 0)
TEXT_BOX_ALPHA = 160  # only on RGBA canvases: the camera picture shows through the box a little

log = logging.getLogger(__name__)
_drawable: dict[str, bool] = {}  # character -> whether this OpenCV's font has a glyph for it


class OverlayRenderer:
    """Draws the overlay of a ``FrameResult``; one instance per overlay config, reused for every frame.

    ``scale`` and ``offset`` map frame pixels (where the keypoints are) to canvas pixels:
    ``canvas_xy = frame_xy * scale + offset``. Text is placed inside the mapped picture, sized to it.
    """

    def __init__(self, overlay_config: OverlayConfig):
        self.config = overlay_config
        self._shown_labels: dict[str, str] = {}  # class label -> the text OpenCV can draw for it

    def draw(self, canvas: np.ndarray, result: FrameResult, *, scale: float = 1.0,
             offset: tuple[float, float] = (0, 0)) -> None:
        import cv2

        if canvas.ndim != 3 or canvas.shape[2] not in (3, 4) or canvas.dtype != np.uint8:
            raise ValueError(f"overlay canvas must be uint8 HxWx3 (RGB) or HxWx4 (RGBA), got "
                             f"{canvas.dtype} {canvas.shape}")
        rgba = canvas.shape[2] == 4
        config = self.config
        frame_w, frame_h = result.frame.size
        left, top = offset
        picture = (int(round(left)), int(round(top)),
                   int(round(left + frame_w * scale)), int(round(top + frame_h * scale)))

        pose = result.pose
        if pose is not None and (config.skeleton or config.keypoints):
            keypoints = pose.keypoints
            points = np.rint(keypoints[:, :2] * scale + (left, top)).astype(np.int32)
            visible = keypoints[:, 2] >= config.keypoint_threshold
            if config.skeleton:
                segments = [(points[a], points[b]) for a, b in SKELETON_EDGES if visible[a] and visible[b]]
                if rgba:
                    _lines_straight_alpha(cv2, canvas, segments, LINE_COLOR, config.line_width)
                else:
                    for start, end in segments:
                        cv2.line(canvas, tuple(start), tuple(end), LINE_COLOR, config.line_width, cv2.LINE_AA)
            if config.keypoints:
                color = _color(KEYPOINT_COLOR, rgba)
                radius = config.line_width + 2
                for (x, y), shown in zip(points, visible):
                    if shown:
                        cv2.circle(canvas, (int(x), int(y)), radius, color, cv2.FILLED)

        font_scale = max(0.45, (picture[3] - picture[1]) / 720.0)
        margin = max(4, int(8 * font_scale))
        text_top = picture[1] + margin
        if config.label:
            decision, activity = result.decision, result.activity
            text = decision.message
            if decision.label is not None:
                text = f"{self._shown_label(cv2, decision.label)} {decision.score:.0%}"
                if activity.hold_s >= 1.0:
                    text += f"  {activity.hold_s:.0f} s"
            if text:
                text_top = _text(cv2, canvas, text, (picture[0] + margin, text_top), font_scale, rgba,
                                 align_right=False) + margin
        if result.activity.exercise is not None:
            _text(cv2, canvas, f"{result.activity.exercise} reps: {result.activity.reps}",
                  (picture[0] + margin, text_top), font_scale, rgba, align_right=False)
        if config.fps and result.fps is not None:
            _text(cv2, canvas, f"{result.fps:.0f} fps", (picture[2] - margin, picture[1] + margin),
                  font_scale * 0.8, rgba, align_right=True)


    def _shown_label(self, cv2, label: str) -> str:
        """``label`` in letters OpenCV's font has: a letter it lacks loses its accents ("ṛ" -> "r", a full-width
        letter -> its ASCII one) or, with none to lose (CJK), stays "?" as OpenCV draws it. Decomposed accents
        (NFD, as macOS names folders) are composed first; one the font lacks is dropped. Logged once per label."""
        shown = self._shown_labels.get(label)
        if shown is None:
            composed = unicodedata.normalize("NFC", label)
            shown = "".join(c if c.isascii() or _opencv_draws(cv2, c) else _without_accents(c) for c in composed)
            if shown != composed:
                log.warning("overlay: the label %r is drawn as %r (the font of OpenCV %s lacks some of its "
                            "letters; name the class folder in ASCII letters to show it exactly)", label, shown,
                            cv2.__version__)
            self._shown_labels[label] = shown
        return shown


def _opencv_draws(cv2, char: str) -> bool:
    """Whether putText draws ``char`` as itself. OpenCV 4 draws only ASCII (anything else as a "?" per UTF-8
    byte), 5 also Latin and Cyrillic (anything else as one "?")."""
    drawable = _drawable.get(char)
    if drawable is None:
        glyph = _glyph(cv2, char)
        drawable = not any(np.array_equal(glyph, _glyph(cv2, "?" * n)) for n in (1, len(char.encode())))
        _drawable[char] = drawable
    return drawable


def _glyph(cv2, text: str) -> np.ndarray:
    canvas = np.zeros((48, 128), np.uint8)
    cv2.putText(canvas, text, (8, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 1, cv2.LINE_8)
    return canvas


def _without_accents(char: str) -> str:
    if unicodedata.combining(char):
        return ""  # an accent no letter composes with ("q" + dot above): the letter is drawn without it
    letters = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return letters if letters and letters.isascii() else "?"


def _lines_straight_alpha(cv2, canvas: np.ndarray, segments: list, rgb: tuple[int, int, int], width: int) -> None:
    """Anti-aliased lines on an RGBA canvas whose alpha is straight, not pre-multiplied (the DRM overlay plane):
    the edge pixels get the full colour and partial alpha. cv2.line would blend the colour itself with the
    transparent black beneath, a dark fringe on the screen. The lines' coverage is drawn into a mask of the
    region they span; the pixels it covers more than their alpha take the colour and that coverage."""
    if not segments:
        return
    h, w = canvas.shape[:2]
    ends = np.array(segments, np.int64).reshape(-1, 2)
    pad = width + 2
    x0, y0 = np.clip(ends.min(axis=0) - pad, 0, (w, h))
    x1, y1 = np.clip(ends.max(axis=0) + pad + 1, 0, (w, h))
    if x0 >= x1 or y0 >= y1:
        return
    coverage = np.zeros((y1 - y0, x1 - x0), np.uint8)
    limits = np.iinfo(np.int32)
    local = np.clip(ends - (x0, y0), limits.min, limits.max).tolist()
    for start, end in zip(local[0::2], local[1::2]):
        cv2.line(coverage, start, end, 255, width, cv2.LINE_AA)
    found = cv2.findNonZero(coverage)  # only the line pixels are touched below, not the whole region
    if found is None:
        return
    xs, ys = found.reshape(-1, 2).T  # (N, 1, 2) on OpenCV 4, (N, 2) on 5
    covered = coverage[ys, xs]
    ys, xs = ys + y0, xs + x0
    raised = covered > canvas[ys, xs, 3]
    pixels = np.empty((int(raised.sum()), 4), np.uint8)
    pixels[:, :3] = rgb
    pixels[:, 3] = covered[raised]
    # Whole RGBA pixels as one 32-bit word each: several times faster to scatter than four bytes.
    canvas.view(np.uint32)[ys[raised], xs[raised], 0] = pixels.view(np.uint32)[:, 0]


def _color(rgb: tuple[int, int, int], rgba: bool, alpha: int = 255) -> tuple[int, ...]:
    return (*rgb, alpha) if rgba else rgb


def _text(cv2, canvas: np.ndarray, text: str, corner: tuple[int, int], font_scale: float, rgba: bool, *,
          align_right: bool) -> int:
    """Text on a dark box whose top corner (left or right, per align_right) is at ``corner``; returns the box's
    bottom y."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, int(round(font_scale * 2)))
    (width, height), baseline = cv2.getTextSize(text, font, font_scale, thickness)
    pad = max(3, int(round(6 * font_scale)))
    x0 = corner[0] - width - 2 * pad if align_right else corner[0]
    y0 = corner[1]
    box_alpha = TEXT_BOX_ALPHA if rgba else 255
    cv2.rectangle(canvas, (x0, y0), (x0 + width + 2 * pad, y0 + height + baseline + 2 * pad),
                  _color(TEXT_BOX_COLOR, rgba, box_alpha), cv2.FILLED)
    # A 1-pixel anti-aliased stroke never reaches the text colour on OpenCV <= 4.11 (a grey smear); drawn
    # without anti-aliasing it stays crisp on every version.
    line_type = cv2.LINE_AA if thickness > 1 else cv2.LINE_8
    cv2.putText(canvas, text, (x0 + pad, y0 + pad + height), font, font_scale, _color(TEXT_COLOR, rgba),
                thickness, line_type)
    return y0 + height + baseline + 2 * pad
