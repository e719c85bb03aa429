"""Is enough of the person in view to name a pose? If not, what should they do? (pure numpy)

Replaces the TF sample's "every keypoint scores >= 0.1" rule, which refused lying and horizontal poses whose
far-side ankle or knee is hidden behind the body. A pose is refused only when what the classification needs is
missing:

- the **torso**: a shoulder and a hip (the features are measured from the hips, scaled by the torso). MoveNet
  places hips well even when it scores them low (a lying body hides them: 0.1-0.2 is common in cobra), so a
  torso keypoint counts from half of ``min_score``;
- **enough keypoints**: at least ``min_visible`` of 17 (a person half out of the picture);
- a body **cut by the frame edge**: keypoints missing while the seen ones touch an edge, or while unseen ones
  lie beyond it, e.g. both ankles unseen with the knees at the bottom of the picture, or a person cut at the
  waist whose hips and legs MoveNet places below it ("step back: feet not in view"). Feet hidden by the body
  itself (a far-side ankle in a lying pose, placed inside the picture) are not a reason to refuse.

A keypoint is "seen" when its score is at least ``min_score``.
"""

from __future__ import annotations

import numpy as np

from pose_appliance.types import KEYPOINT_INDEX, Pose

EDGE_MARGIN = 0.02  # of the frame's width/height: a keypoint this close to an edge touches it

_SHOULDERS = [KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["right_shoulder"]]
_HIPS = [KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]]
_ANKLES = [KEYPOINT_INDEX["left_ankle"], KEYPOINT_INDEX["right_ankle"]]


def view_problem(pose: Pose, frame_size: tuple[int, int] | None, *, min_score: float, min_visible: int
                 ) -> str | None:
    """None when the pose can be classified, else a short hint for the overlay saying what is missing."""
    scores = pose.scores
    seen = scores >= min_score
    seen_count = int(np.count_nonzero(seen))
    torso_seen = scores >= min_score / 2
    shoulders_seen = torso_seen[_SHOULDERS[0]] or torso_seen[_SHOULDERS[1]]
    hips_seen = torso_seen[_HIPS[0]] or torso_seen[_HIPS[1]]
    # The frame edges are looked at only for a pose that is refused or has no ankle: most poses pass without.
    if not shoulders_seen or not hips_seen:
        if cut := _cut_edge(pose.keypoints, seen, frame_size):
            return f"step back: body cut by the {cut} edge"
        return f"turn to the camera: {'hips' if shoulders_seen else 'shoulders'} not visible"
    if seen_count < min_visible:
        if cut := _cut_edge(pose.keypoints, seen, frame_size):
            return f"step back: body cut by the {cut} edge"
        return f"step into view: only {seen_count} of 17 body points seen"
    if not (seen[_ANKLES[0]] or seen[_ANKLES[1]]) and _cut_edge(pose.keypoints, seen, frame_size) == "bottom":
        return "step back: feet not in view"
    return None


def _cut_edge(keypoints: np.ndarray, seen: np.ndarray, frame_size: tuple[int, int] | None) -> str | None:
    """The frame edge that cuts the body, if any: seen keypoints touch it, or unseen ones lie beyond it (MoveNet
    places a keypoint it cannot see outside the picture when the body goes on there; one hidden behind the body
    stays inside)."""
    if frame_size is None or seen.all():
        return None
    width, height = frame_size
    x, y = keypoints[:, 0], keypoints[:, 1]
    margin_x, margin_y = EDGE_MARGIN * width, EDGE_MARGIN * height
    near = {"bottom": y >= height - margin_y, "top": y <= margin_y,
            "left": x <= margin_x, "right": x >= width - margin_x}
    beyond = {"bottom": y > height, "top": y < 0, "left": x < 0, "right": x > width}
    return next((edge for edge in near if (near[edge] & seen).any() or (beyond[edge] & ~seen).any()), None)
