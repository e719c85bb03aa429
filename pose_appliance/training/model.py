"""The classifier model: built, trained with early stopping on validation accuracy (best epoch kept) and exported
to TFLite (float, or INT8 with float input/output). TensorFlow is the optional extra ``[train]``, imported by
:func:`import_tensorflow` only."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pose_appliance.classify.features import FEATURE_SIZE, normalized_landmarks
from pose_appliance.classify.keypoint_csv import KeypointSet
from pose_appliance.classify.reference import mirrored
from pose_appliance.errors import UserError

BATCH_SIZE = 16
PATIENCE = 20
# Training targets are 0.84 for the class and 0.04 for each other class (of five), not 1 and 0. A classifier trained
# on hard targets scores almost any pose 0.9-1.0 for some class, and leant to cobra on sitting and lying people;
# with smoothed targets an unfamiliar pose scores lower and the label smoother's min_label_score holds it back.
# Measured on the tutorial's CSV over five trainings: everyday photos named 6-9 -> 3-5 of 58, COCO val2017
# 14-15 -> 9-11 of 159, the seven shared COCO photos 1-2 -> 0; the tutorial's test images named right 0.4-2.7 %
# fewer, real yoga photos 0-2 of 29 fewer (docs/architecture.md).
LABEL_SMOOTHING = 0.2
REPRESENTATIVE_SAMPLES = 300


TENSORFLOW_MISSING = ("TensorFlow is not installed: pip install 'pose-appliance[train]' "
                      "(tensorflow-cpu on x86_64)")


def require_tensorflow() -> None:
    """Fail at once, not after a minute of pose estimation, when TensorFlow is missing (no import: that is slow)."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        raise UserError(TENSORFLOW_MISSING)


def import_tensorflow() -> Any:
    from pose_appliance.native_stderr import ABSL_INFO_OR_WARNING, filtered_stderr

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        # Its C++ INFO lines (oneDNN...) come while it loads, before it reads TF_CPP_MIN_LOG_LEVEL.
        with filtered_stderr(lambda line: ABSL_INFO_OR_WARNING.match(line) is not None):
            import tensorflow as tf
    except ImportError:
        raise UserError(TENSORFLOW_MISSING) from None
    return tf


def build_model(tf: Any, class_count: int) -> Any:
    inputs = tf.keras.Input(shape=(FEATURE_SIZE,), name="landmarks")
    layer = tf.keras.layers.Dense(128, activation=tf.nn.relu6)(inputs)
    layer = tf.keras.layers.Dropout(0.5)(layer)
    layer = tf.keras.layers.Dense(64, activation=tf.nn.relu6)(layer)
    layer = tf.keras.layers.Dropout(0.5)(layer)
    outputs = tf.keras.layers.Dense(class_count, activation="softmax")(layer)
    model = tf.keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=tf.keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING),
                  metrics=["accuracy"])
    return model


def train_model(tf: Any, train: KeypointSet, validation: KeypointSet, *, epochs: int, seed: int
                ) -> tuple[Any, dict]:
    """Fit with early stopping; the returned model holds the weights of the best validation epoch."""
    tf.keras.utils.set_random_seed(seed)
    model = build_model(tf, len(train.classes))
    best = _best_epoch_callback(tf, PATIENCE, epochs)
    history = model.fit(*with_mirror_images(train), epochs=epochs, batch_size=BATCH_SIZE, shuffle=True, verbose=0,
                        callbacks=[best], validation_data=with_mirror_images(validation))
    best.restore()
    return model, {
        "epochs_run": len(history.history["loss"]),
        "max_epochs": epochs,
        "best_epoch": best.epoch + 1,
        "best_val_accuracy": round(best.accuracy, 4),
        "best_val_loss": round(best.loss, 4),
        "val_accuracy_history": [round(float(v), 4) for v in history.history["val_accuracy"]],
        "accuracy_history": [round(float(v), 4) for v in history.history["accuracy"]],
        "loss_history": [round(float(v), 4) for v in history.history["loss"]],
        "val_loss_history": [round(float(v), 4) for v in history.history["val_loss"]],
        "batch_size": BATCH_SIZE,
        "patience": PATIENCE,
        "label_smoothing": LABEL_SMOOTHING,
        "mirror_images": True,
    }


def with_mirror_images(samples: KeypointSet) -> tuple[np.ndarray, np.ndarray]:
    """Features and one-hot targets of every sample and of its mirror image, which counts as the same pose (the
    pose reference counts it so too).

    The tutorial's people mostly face one way. Trained on the tutorial's CSV without mirror images, a classifier
    named 71-73 % of the mirrored test CSV's poses right, 96-97 % of the poses themselves; with them 99-100 %
    both (three seeds). Through the whole appliance: docs/architecture.md."""
    keypoints = np.concatenate([samples.keypoints, mirrored(samples.keypoints)])
    one_hot = np.eye(len(samples.classes), dtype=np.float32)
    return normalized_landmarks(keypoints), one_hot[np.concatenate([samples.targets, samples.targets])]


def _best_epoch_callback(tf: Any, patience: int, epochs: int) -> Any:
    """Keeps the weights of the epoch with the best validation accuracy, ties going to the lower validation loss,
    and stops after ``patience`` epochs without a better epoch by that order. ``restore()`` puts them back.

    The loss tie-break matters for small datasets: a validation set of a few samples reaches 100 % early, and
    stopping on accuracy alone then exports an undertrained model (measured on the 50 yoga_cg images, seeds
    0-5: mean held-out accuracy 0.96 with the tie-break, 0.875 without)."""

    class BestEpoch(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch, self.accuracy, self.loss, self.weights = -1, -1.0, float("inf"), None
            self.progress = tqdm(total=epochs, desc="training", unit="epoch", file=sys.stderr)

        def on_epoch_end(self, epoch, logs=None):
            accuracy, loss = float(logs["val_accuracy"]), float(logs["val_loss"])
            if (accuracy, -loss) > (self.accuracy, -self.loss):
                self.epoch, self.accuracy, self.loss = epoch, accuracy, loss
                self.weights = self.model.get_weights()
            self.progress.set_postfix_str(f"val acc {accuracy:.3f} (best {self.accuracy:.3f} @ {self.epoch + 1})",
                                          refresh=False)
            self.progress.update()
            if epoch - self.epoch >= patience:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            self.progress.close()

        def restore(self):
            self.model.set_weights(self.weights)

    return BestEpoch()


def export_tflite(tf: Any, model: Any, path: Path, *, representative: np.ndarray | None = None) -> Path:
    """Write the model as TFLite; with ``representative`` features, quantized to INT8 (float input/output)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:
        chosen = representative[:REPRESENTATIVE_SAMPLES].astype(np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([row[None, :]] for row in chosen)
    # The converter prints its SavedModel signature to stdout and warns that float inputs have no statistics.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs", category=UserWarning)
        model_bytes = converter.convert()
    path.write_bytes(model_bytes)
    return path
