"""Shared fixtures: the read-only ../shared folder of real models and data, and a fetched models dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POSE_APPLIANCE_SHARED", REPO.parent / "shared")).resolve()


def pytest_sessionstart(session):
    if not (SHARED / "models" / "MANIFEST.md").is_file():
        raise pytest.UsageError(
            f"{SHARED} is missing: the tests run on the real models and data of ../shared "
            "(set POSE_APPLIANCE_SHARED to its path)")


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def lightning_int8(shared) -> Path:
    return shared / "models/movenet/lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite"


@pytest.fixture(scope="session")
def yoga_classifier(shared) -> Path:
    return shared / "models/classifier/yoga_classifier.tflite"


@pytest.fixture(scope="session")
def yoga_labels(shared) -> Path:
    return shared / "models/classifier/yoga_labels.txt"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory, shared) -> Path:
    """A models dir filled by the product's own fetch step from the ../shared mirror (what is available)."""
    from pose_appliance import modelstore

    dest = tmp_path_factory.mktemp("models")
    names = ["movenet_lightning_int8", "movenet_lightning_int8_edgetpu", "yoga_classifier", "yoga_labels",
             "yoga_train_keypoints",
             "demo_video"]
    modelstore.fetch(names, dest, mirrors=[shared / "models", shared / "data"])
    return dest
