"""Drawing the overlay: skeleton, keypoint dots, label and FPS."""

from pose_appliance.render.overlay_renderer import OverlayRenderer
from pose_appliance.render.renderer import Renderer

__all__ = ["OverlayRenderer", "Renderer"]
