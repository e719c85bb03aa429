"""The training report: the exported model evaluated the way the appliance runs it, a confusion matrix image and
report.md."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from pose_appliance.classify.classifier import OTHER_LABEL, other_index
from pose_appliance.classify.keypoint_csv import KeypointSet
from pose_appliance.config import ClassifierConfig

# A held-out accuracy whose 95 % interval is wider than this either way is reported with a caveat.
MEANINGFUL_HALF_WIDTH = 0.05


def accuracy_interval(right: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of an accuracy measured as right/total (95 % by default)."""
    if total == 0:
        return 0.0, 1.0
    p = right / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def small_test_caveat(right: int, total: int) -> str | None:
    """A sentence saying the held-out figure means little, when the test set is too small for it."""
    low, high = accuracy_interval(right, total)
    if (high - low) / 2 <= MEANINGFUL_HALF_WIDTH:
        return None
    step = 100.0 / max(total, 1)
    return (f"only {total} test samples: one mistake moves the accuracy by {step:.1f} points, and the true "
            f"accuracy is likely (95 %) anywhere from {low:.2f} to {high:.2f}. Test on more images (--test) "
            "before trusting it.")


def evaluate(model_path: Path, labels_path: Path, samples: KeypointSet) -> dict:
    """Accuracy, per-class precision/recall and the confusion matrix of the exported file, run the way the
    appliance runs it (PoseClassifier, one pose at a time)."""
    from pose_appliance.classify.pose_classifier import PoseClassifier

    classifier = PoseClassifier(model_path, labels_path)
    predicted = np.array([int(np.argmax(classifier.classify(k))) for k in samples.keypoints], np.int64)
    classes = len(samples.classes)
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (samples.targets, predicted), 1)
    per_class = {}
    for i, name in enumerate(samples.classes):
        predicted_as, actual = confusion[:, i].sum(), confusion[i, :].sum()
        per_class[name] = {"precision": round(float(confusion[i, i] / predicted_as), 4) if predicted_as else None,
                           "recall": round(float(confusion[i, i] / actual), 4) if actual else None,
                           "support": int(actual)}
    right, total = int(np.trace(confusion)), int(confusion.sum())
    accuracy = float(right / max(1, total))
    low, high = accuracy_interval(right, total)
    return {"accuracy": round(accuracy, 4), "accuracy_95": [round(low, 4), round(high, 4)],
            "caveat": small_test_caveat(right, total), "per_class": per_class, "confusion": confusion.tolist()}


def evaluate_open_set(model_path: Path, labels_path: Path, reference, samples: KeypointSet,
                      classifier_config: ClassifierConfig) -> dict:
    """The held-out samples through the appliance's whole decision (view check, filled-in keypoints, open-set
    check with ``reference``): how many get a label, and how many of those are right. Samples of the ``other``
    class are right when they get no label (``other_unnamed``), wrong when they get one."""
    from pose_appliance.classify.pose_classifier import PoseClassifier
    from pose_appliance.types import Pose

    classifier = PoseClassifier(model_path, labels_path, reference=reference,
                                min_keypoint_score=classifier_config.min_keypoint_score,
                                min_visible_keypoints=classifier_config.min_visible_keypoints,
                                min_familiarity=classifier_config.min_familiarity)
    other = other_index(samples.classes)
    named = right = refused_view = other_unnamed = 0
    for keypoints, target in zip(samples.keypoints, samples.targets):
        assessment = classifier.assess(Pose(np.asarray(keypoints, np.float32)))
        if assessment.scores is not None:
            named += 1
            right += int(np.argmax(assessment.scores)) == int(target)
        elif target == other:
            other_unnamed += 1
        elif assessment.hint is not None:
            refused_view += 1
    total = len(samples)
    return {"samples": total, "named": named, "named_right": right, "named_wrong": named - right,
            "refused_view": refused_view, "min_familiarity": classifier_config.min_familiarity,
            "named_right_fraction": round(right / max(total, 1), 4),
            "other_samples": int((samples.targets == other).sum()), "other_unnamed": other_unnamed}


def write_confusion_png(path: Path, confusion: list[list[int]], classes: list[str]) -> None:
    """Rows = true class, columns = predicted; darker = more samples of that row."""
    import cv2

    matrix = np.asarray(confusion, np.float64)
    cell, margin = 64, 150
    size = margin + cell * len(classes)
    image = np.full((size + 10, size + 10, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    rows = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            top_left = (margin + j * cell, margin + i * cell)
            shade = int(255 - 200 * rows[i, j])
            color = (shade, shade, 255) if i != j else (shade, 255, shade)
            cv2.rectangle(image, top_left, (top_left[0] + cell, top_left[1] + cell), color, -1)
            cv2.rectangle(image, top_left, (top_left[0] + cell, top_left[1] + cell), (90, 90, 90), 1)
            cv2.putText(image, str(int(matrix[i, j])), (top_left[0] + 12, top_left[1] + 40), font, 0.6,
                        (0, 0, 0), 1, cv2.LINE_AA)
    for k, name in enumerate(classes):
        cv2.putText(image, name[:14], (6, margin + k * cell + 38), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        column = np.full((cell - 8, margin - 10, 3), 255, np.uint8)
        cv2.putText(column, name[:14], (4, (cell - 8) // 2 + 5), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        image[8:margin - 2, margin + k * cell + 4:margin + (k + 1) * cell - 4] = np.rot90(column)
    cv2.putText(image, "true \\ predicted", (6, 30), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), image)


def report_markdown(report: dict) -> str:
    lines = [f"# Pose classifier trained on {report['dataset']}", "",
             f"- Keypoints from: {report['keypoints_from']}",
             f"- Classes: {', '.join(report['classes'])}",
             f"- Samples: train {sum(report['samples']['train'].values())}, validation "
             f"{sum(report['samples']['validation'].values())}, test {sum(report['samples']['test'].values())}"
             f" ({report['test_set']})",
             f"- Training: {report['training']['epochs_run']} of {report['training']['max_epochs']} epochs, "
             f"best epoch {report['training']['best_epoch']} (validation accuracy "
             f"{report['training']['best_val_accuracy']:.3f}), whose weights were exported; label smoothing "
             f"{report['training']['label_smoothing']}"
             + ("; every train and validation sample also learnt as its mirror image"
                if report["training"].get("mirror_images") else ""),
             "- Times (s): " + ", ".join(f"{k[:-2]} {v}" for k, v in report["times_s"].items()),
             f"- Seed: {report['seed']}", ""]
    for name, model in report["models"].items():
        low, high = model["accuracy_95"]
        lines += [f"## {name}", "", f"Held-out accuracy **{model['accuracy']:.3f}** (95 % interval {low:.2f}-"
                  f"{high:.2f}), size {model['size_bytes']:,} bytes.", ""]
        if model["caveat"]:
            lines += [f"**Caveat:** {model['caveat']}", ""]
        lines += ["| class | precision | recall | support |", "|---|---|---|---|"]
        for cls, values in model["per_class"].items():
            precision = "-" if values["precision"] is None else f"{values['precision']:.3f}"
            recall = "-" if values["recall"] is None else f"{values['recall']:.3f}"
            lines.append(f"| {cls} | {precision} | {recall} | {values['support']} |")
        lines.append("")
    open_set = report["open_set"]
    lines += ["## As the appliance decides", "",
              f"With the pose reference (reference.npz, classifier.min_familiarity = {open_set['min_familiarity']}) "
              f"and the view check, {open_set['named']} of {open_set['samples']} held-out samples get a label: "
              f"{open_set['named_right']} right, {open_set['named_wrong']} wrong; {open_set['refused_view']} are "
              "refused by the view check, the rest as unlike their class. These are single poses: a photo run "
              "through `pose-appliance run` is judged on the picture and its mirror image together (their scores "
              "and class distances averaged), so its label can differ from these figures "
              "(docs/architecture.md)."]
    if open_set.get("other_samples"):
        lines += [f"Of the {open_set['other_samples']} samples of the class *{OTHER_LABEL}* (never shown by the "
                  f"appliance), {open_set['other_unnamed']} get no label, as they should."]
    lines.append("")
    lines += ["| confusion matrix of model.tflite (rows true, columns predicted) | training curve |", "|---|---|",
              "| ![confusion](confusion.png) | ![training](training.png) |", ""]
    if report["skipped"]:
        reasons: dict[str, int] = {}
        for item in report["skipped"]:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        lines += [f"## Skipped ({len(report['skipped'])})", ""]
        lines += [f"- {count} x {reason}" for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])]
        lines.append("")
        lines += [f"- {item['file']}: {item['reason']}" for item in report["skipped"]]
        lines.append("")
    return "\n".join(lines)


def write_training_curve_png(path: Path, fit: dict) -> None:
    """Accuracy (train, validation) and loss per epoch, with the exported (best) epoch marked."""
    import cv2

    series = {"train accuracy": (fit["accuracy_history"], (200, 120, 30), 0),
              "validation accuracy": (fit["val_accuracy_history"], (30, 140, 30), 0),
              "train loss": (fit["loss_history"], (200, 120, 30), 1),
              "validation loss": (fit["val_loss_history"], (30, 140, 30), 1)}
    width, panel, left, top = 640, 220, 60, 30
    image = np.full((top + 2 * panel + 40, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    epochs = max(len(fit["loss_history"]), 2)
    losses = fit["loss_history"] + fit["val_loss_history"]
    ranges = [(0.0, 1.0), (0.0, max(max(losses), 1e-6))]
    titles = ["accuracy", "loss"]
    for row in range(2):
        y0 = top + row * panel
        cv2.rectangle(image, (left, y0), (width - 10, y0 + panel - 30), (120, 120, 120), 1)
        cv2.putText(image, f"{titles[row]} (max {ranges[row][1]:.2f})", (left, y0 - 6), font, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    for label, (values, color, row) in series.items():
        if not values:
            continue
        low, high = ranges[row]
        y0 = top + row * panel
        xs = left + (np.arange(len(values)) / (epochs - 1)) * (width - 10 - left)
        ys = y0 + (panel - 30) * (1 - (np.asarray(values) - low) / (high - low))
        points = np.stack([xs, ys], axis=1).round().astype(np.int32)
        dashed = "validation" in label
        for i, (a, b) in enumerate(itertools.pairwise(points)):
            if not dashed or i % 2 == 0:
                cv2.line(image, tuple(a), tuple(b), color, 2, cv2.LINE_AA)
    best = left + (fit["best_epoch"] - 1) / (epochs - 1) * (width - 10 - left)
    cv2.line(image, (int(best), top), (int(best), top + 2 * panel - 30), (0, 0, 200), 1)
    legend = (f"epochs 1-{len(fit['loss_history'])}; solid = train, dashed = validation; red line = exported "
              f"epoch {fit['best_epoch']}")
    cv2.putText(image, legend, (10, top + 2 * panel + 10), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), image)
