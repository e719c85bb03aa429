"""``pose-appliance train-classifier DATASET --out DIR``: train a pose classifier the appliance can load through
``classifier.path``. The work is :func:`pose_appliance.training.train_classifier`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pose_appliance.training import FLOAT_MODEL, TrainingOptions, train_classifier


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="folder of <class>/*.jpg|png|bmp images, or a keypoint CSV in the "
                                        "pose-classification tutorial's format")
    parser.add_argument("--out", required=True, help="folder for model.tflite, labels.txt and the report")
    parser.add_argument("--epochs", type=int, default=200, help="most training epochs (early stopping may end "
                                                                "sooner; default 200)")
    parser.add_argument("--int8", action="store_true", help="also export model_int8.tflite (INT8 weights and "
                                                             "activations, float input/output)")
    parser.add_argument("--val-split", type=float, default=0.15,
                        help="fraction of the training samples kept for early stopping (default 0.15)")
    parser.add_argument("--test", help="held-out test set (image folder or keypoint CSV); default: 20%% of "
                                       "DATASET is held out")
    parser.add_argument("--models-dir", default="", help="where fetched MoveNet models are (default: as the "
                                                         "appliance: its service.models_dir, "
                                                         "$POSE_APPLIANCE_MODELS or the cache)")
    parser.add_argument("--config", default="", help="the appliance config whose pose model (model.name) and "
                                                     "view check training follows (default: "
                                                     "/etc/pose-appliance/config.toml if present, else the "
                                                     "built-in defaults)")
    parser.add_argument("--model", default="", help="pose model for the image keypoints instead of the config's "
                                                    "model.name (the appliance warns when it runs another)")
    parser.add_argument("--keypoints-csv", help="also write the keypoints extracted from DATASET's images to this "
                                                "CSV; pass it as DATASET later to skip pose estimation")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the splits and training")
    parser.add_argument("--force", action="store_true", help="replace the model files already in --out (without "
                                                              "--int8, an earlier model_int8.tflite is removed)")


def run(args: argparse.Namespace) -> int:
    options = TrainingOptions(dataset=args.dataset, out=args.out, epochs=args.epochs, int8=args.int8,
                              val_split=args.val_split, test=args.test, models_dir=args.models_dir,
                              keypoints_csv=args.keypoints_csv, seed=args.seed, force=args.force,
                              config=args.config, model=args.model)
    report = train_classifier(options)
    out = Path(args.out)
    tested = sum(report["samples"]["test"].values())
    for name, model in report["models"].items():
        print(f"{out / name}: test accuracy {model['accuracy']:.3f} on {tested} samples")
        if model["caveat"]:
            print(f"  caveat: {model['caveat']}")
    open_set = report["open_set"]
    print(f"as the appliance decides (view check + pose reference): {open_set['named']} of {open_set['samples']} "
          f"named, {open_set['named_right']} right, {open_set['named_wrong']} wrong")
    if open_set["other_samples"]:
        print(f"  {open_set['other_samples']} of the {open_set['samples']} are \"other\" (never shown): "
              f"{open_set['other_unnamed']} get no label, as they should")
    if report["skipped"]:
        print(f"{len(report['skipped'])} images skipped (reasons in {out / 'report.md'})")
    print(f"report: {out / 'report.md'}; use it with classifier.path = \"{(out / FLOAT_MODEL).resolve()}\"")
    return 0
