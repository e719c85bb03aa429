"""The training report: the exported model evaluated the way the appliance runs it, a confusion matrix image and
report.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pose_appliance.classify.keypoint_csv import KeypointSet


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
    accuracy = float(np.trace(confusion) / max(1, confusion.sum()))
    return {"accuracy": round(accuracy, 4), "per_class": per_class, "confusion": confusion.tolist()}


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
             f"{report['training']['best_val_accuracy']:.3f}), whose weights were exported",
             "- Times (s): " + ", ".join(f"{k[:-2]} {v}" for k, v in report["times_s"].items()),
             f"- Seed: {report['seed']}", ""]
    for name, model in report["models"].items():
        lines += [f"## {name}", "", f"Held-out accuracy **{model['accuracy']:.3f}**, size {model['size_bytes']:,} "
                  "bytes.", "", "| class | precision | recall | support |", "|---|---|---|---|"]
        for cls, values in model["per_class"].items():
            precision = "-" if values["precision"] is None else f"{values['precision']:.3f}"
            recall = "-" if values["recall"] is None else f"{values['recall']:.3f}"
            lines.append(f"| {cls} | {precision} | {recall} | {values['support']} |")
        lines.append("")
    lines += ["Confusion matrix of model.tflite (rows true, columns predicted): ![confusion](confusion.png)", ""]
    if report["skipped"]:
        lines += [f"## Skipped ({len(report['skipped'])})", ""]
        lines += [f"- {item['file']}: {item['reason']}" for item in report["skipped"]]
        lines.append("")
    return "\n".join(lines)
