"""A re-creation of the TensorFlow raspberry_pi sample's serial loop on the appliance's own interpreter, classifier
and renderer, on the same frames, for comparison. It is not the sample's code: ``scripts/compare-tf-sample`` runs
that from a checkout of tensorflow/examples."""

from __future__ import annotations

import time
from typing import Any

from pose_appliance.bench.frames import PreparedFrames
from pose_appliance.bench.measure import build_display
from pose_appliance.config import DisplayConfig
from pose_appliance.pipeline import Stages


def run_serial_loop(stages: Stages, interpreter: Any, frames: PreparedFrames, display_config: DisplayConfig,
                    count: int) -> dict:
    """The sample's loop, one thread: read, crop the region found in the previous frame with OpenCV (slice,
    copyMakeBorder, resize), set_tensor, invoke, get_tensor, keypoints to pixels, next crop, classify, draw onto
    the frame, show. The same work as the pipeline on the same frames and display target: no mirroring (the
    pipeline does not mirror), and with the null target nothing is drawn (the pipeline draws nothing there)."""
    import cv2
    import numpy as np

    from pose_appliance.inference.crop_region import next_crop_region, padded_full_frame
    from pose_appliance.types import Frame, FrameResult, LabelDecision, Pose

    detail = interpreter.get_input_details()[0]
    in_h, in_w = int(detail["shape"][1]), int(detail["shape"][2])
    output_index = interpreter.get_output_details()[0]["index"]
    display = build_display(display_config, None)
    draws = display_config.type != "null"
    classifier = stages.classifier
    warmup = max(5, count // 10)
    crop = None
    for i in range(count + warmup):
        if i == warmup:
            started, cpu_started = time.perf_counter(), time.process_time()
        image = frames.main(i)
        height, width = image.shape[:2]
        if crop is None:
            crop = padded_full_frame(width, height)
        ymin, xmin, ymax, xmax = crop
        top, bottom = int(max(ymin, 0) * height), int(min(ymax, 1) * height)
        left, right = int(max(xmin, 0) * width), int(min(xmax, 1) * width)
        pad_top, pad_bottom = int(-ymin * height) if ymin < 0 else 0, int((ymax - 1) * height) if ymax >= 1 else 0
        pad_left, pad_right = int(-xmin * width) if xmin < 0 else 0, int((xmax - 1) * width) if xmax >= 1 else 0
        cropped = cv2.copyMakeBorder(image[top:bottom, left:right], pad_top, pad_bottom, pad_left, pad_right,
                                     cv2.BORDER_CONSTANT)
        model_input = cv2.resize(cropped, (in_w, in_h)).astype(np.uint8)
        interpreter.set_tensor(detail["index"], np.expand_dims(model_input, axis=0))
        interpreter.invoke()
        yxs = np.squeeze(interpreter.get_tensor(output_index)).copy()
        keypoints = np.column_stack([(xmin + yxs[:, 1] * (xmax - xmin)) * width,
                                     (ymin + yxs[:, 0] * (ymax - ymin)) * height, yxs[:, 2]]).astype(np.float32)
        crop = next_crop_region(keypoints, width, height)
        pose = Pose(keypoints)
        decision = LabelDecision(label=None)
        if classifier is not None:
            scores = classifier.classify(pose)
            best = int(np.argmax(scores))
            decision = LabelDecision(label=classifier.labels[best], score=float(scores[best]))
        if draws and frames.lores_size is None:  # a stored frame, read again later (a camera gives a fresh one)
            image = image.copy()
        result = FrameResult(frame=Frame(image, i, 0.0), pose=pose, decision=decision)
        if draws:
            stages.renderer.draw(image, result)  # the sample draws on the frame itself, then shows it
        display.show(result, _NO_OVERLAY, {})
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    display.close()
    return {"frames": count, "fps": round(count / elapsed, 1), "cpu_ms_per_frame": round(1000.0 * cpu / count, 3)}


class _NoOverlay:
    """The renderer handed to a display showing a frame that already has its overlay drawn."""

    def draw(self, canvas, result, *, scale=1.0, offset=(0, 0)) -> None:
        pass


_NO_OVERLAY = _NoOverlay()
