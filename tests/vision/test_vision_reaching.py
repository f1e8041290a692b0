"""The reach classifier stage: a probability of reaching for every tracked box (plumbing, not accuracy)."""

from __future__ import annotations

import numpy as np
import pytest

from vision.errors import InputError
from vision.reaching import REACHING_CLASS, ReachClassifier, ReachingConfig


def _classifier(tmp_path, names: dict[int, str]):
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    model = YOLO("yolov8n-cls.yaml")
    model.model.names = names
    path = tmp_path / "reach-untrained.pt"
    model.save(str(path))
    return path


def test_every_tracked_box_gets_a_probability_of_reaching(tmp_path):
    path = _classifier(tmp_path, {i: REACHING_CLASS if i == 1 else f"c{i}" for i in range(1000)})
    classifier = ReachClassifier(ReachingConfig(model_path=str(path), imgsz=32))
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (90, 160, 3), dtype=np.uint8) for _ in range(3)]
    boxes = [np.array([[10.0, 10, 50, 80], [100, 20, 150, 85]]), np.empty((0, 4)), np.array([[60.0, 40, 61, 41]])]
    first, none, tiny = classifier.classify(frames, boxes)
    assert first.shape == (2,) and ((first >= 0) & (first <= 1)).all()
    assert none.shape == (0,)
    # A one-pixel box still gets its margin, but a crop under 8 px is not classified.
    assert tiny.shape == (1,) and np.isnan(tiny).all()


def test_a_classifier_without_a_reaching_class_is_refused_by_name(tmp_path):
    path = _classifier(tmp_path, {i: f"c{i}" for i in range(1000)})
    with pytest.raises(InputError, match="reaching") as error:
        ReachClassifier(ReachingConfig(model_path=str(path)))
    assert str(path) in str(error.value)


def test_a_missing_or_broken_model_file_is_named(tmp_path):
    with pytest.raises(InputError, match="not found") as error:
        ReachClassifier(ReachingConfig(model_path=str(tmp_path / "nope.pt")))
    assert "nope.pt" in str(error.value)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a model")
    with pytest.raises(InputError, match="not a model") as error:
        ReachClassifier(ReachingConfig(model_path=str(broken)))
    assert "broken.pt" in str(error.value)


def test_the_stage_is_off_without_a_model():
    assert not ReachingConfig().enabled
    assert ReachingConfig(model_path="models/walkout-reach.pt").enabled


def test_walkout_run_with_a_reach_classifier_writes_a_probability_for_every_tracked_box(tmp_path):
    """Wiring through `walkout run` (shipped detector, an untrained classifier: plumbing, not accuracy):
    tracks.csv gains the reaching column, run.json names the model and times the stage."""
    import json
    import shutil

    import cv2
    import pandas as pd

    from walkout.config import PROJECT_ROOT, load_config
    from walkout.pipeline import run_recordings

    sample = PROJECT_ROOT / "sample_videos" / "two_shoppers_return"
    root = tmp_path / "clip"
    shutil.copytree(sample, root, ignore=shutil.ignore_patterns("videos", "truth"))
    (root / "videos").mkdir()
    capture = cv2.VideoCapture(str(sample / "videos" / "cam0.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 60)  # both shoppers in view
    writer = cv2.VideoWriter(str(root / "videos" / "cam0.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (640, 360))
    for _ in range(12):
        writer.write(capture.read()[1])
    writer.release()
    capture.release()
    path = _classifier(tmp_path, {0: "idle", 1: REACHING_CLASS})
    config = load_config(reaching=ReachingConfig(model_path=str(path), imgsz=32))
    (result,) = run_recordings([root], tmp_path / "run", config)
    assert result.ok, result.error
    tracks = pd.read_csv(tmp_path / "run" / "clip" / "tracks.csv")
    assert len(tracks) and tracks["reaching"].between(0, 1).all()
    run = json.loads((tmp_path / "run" / "clip" / "run.json").read_text())
    assert run["reach_model"] == str(path) and run["timings"]["cam0"]["stages_s"]["reaching"] > 0
    assert run["config"]["reaching"]["imgsz"] == 32
