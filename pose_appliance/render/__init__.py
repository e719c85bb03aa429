"""Drawing the overlay: skeleton, keypoint dots, label and FPS."""

from pose_appliance.render.overlay_renderer import OverlayRenderer

__all__ = ["OverlayRenderer"]
