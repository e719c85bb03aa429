"""Training a pose classifier the appliance can load through ``classifier.path``.

DATASET is a folder ``<class>/*.jpg|jpeg|png|bmp`` (keypoints come from the pose model the appliance runs, its
``model.name``, or ``--model``), or a keypoint CSV in the tutorial's format (see ``keypoint_csv``). Images that
cannot be decoded, or that the appliance's view check would refuse (too little of the body in view), are skipped
and listed with the reason; CSV rows are used as given.

The model reads :func:`~pose_appliance.classify.features.normalized_landmarks` (``[None, 34]``), so training and
the appliance share one per-sample normalization: Dense 128 relu6 -> Dropout 0.5 -> Dense 64 relu6 ->
Dropout 0.5 -> softmax, Adam, early stopping on validation accuracy, and the best epoch's weights are restored
before export. Every sample is also learnt as its mirror image: a pose facing left is the same pose facing right.
Output in ``--out``: ``model.tflite`` (and ``model_int8.tflite``), ``labels.txt``, ``model.json``,
``reference.npz``, ``report.md``, ``report.json``, ``confusion.png`` and ``training.png``.

TensorFlow is the optional extra ``[train]`` and is imported only inside functions. Training is not on the
appliance's run path; the command is :mod:`pose_appliance.commands.train_classifier`.
"""

from pose_appliance.training.model import import_tensorflow, train_model
from pose_appliance.training.train import FLOAT_MODEL, INT8_MODEL, LABELS_FILE, TrainingOptions, train_classifier

__all__ = ["FLOAT_MODEL", "INT8_MODEL", "LABELS_FILE", "TrainingOptions", "import_tensorflow", "train_classifier",
           "train_model"]
