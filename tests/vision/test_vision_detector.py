"""The detector's thresholds: shoppers have their own (``shopper_confidence``), every other class keeps
``confidence`` and exactly the boxes it had."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.detector import ROLE_SHOPPER, Detector, DetectorConfig
from walkout.config import PipelineConfig

SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos" / "two_shoppers_return"
DETECTOR = Path(PipelineConfig().detector.model_path)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    if not DETECTOR.is_file():
        pytest.skip(f"the shipped detector is not at {DETECTOR}")
    capture = cv2.VideoCapture(str(next((SAMPLE / "videos").glob("*.mp4"))))
    read = [capture.read()[1] for _ in range(60)]
    capture.release()
    return read[::6]


def detect(frames, **thresholds):
    return Detector(DetectorConfig(model_path=str(DETECTOR), imgsz=416, **thresholds)).detect(frames)


def split(detections):
    shopper = detections.data["role"] == ROLE_SHOPPER
    return detections[shopper], detections[~shopper]


def test_a_lower_shopper_threshold_adds_shoppers_and_leaves_the_other_classes_alone(frames):
    before = detect(frames, confidence=0.25, shopper_confidence=0.25)
    after = detect(frames, confidence=0.25, shopper_confidence=0.05)
    added = 0
    for old, new in zip(before, after, strict=True):
        old_shoppers, old_rest = split(old)
        new_shoppers, new_rest = split(new)
        np.testing.assert_allclose(new_rest.xyxy, old_rest.xyxy)
        np.testing.assert_array_equal(new_rest.class_id, old_rest.class_id)
        assert (new_shoppers.confidence >= 0.05).all()
        confident = new_shoppers[new_shoppers.confidence >= 0.25]
        np.testing.assert_allclose(confident.xyxy, old_shoppers.xyxy, atol=1e-4)
        added += len(new_shoppers) - len(old_shoppers)
    assert added > 0  # the low threshold found boxes the default did not


def test_a_higher_shopper_threshold_drops_only_shoppers(frames):
    before = detect(frames)
    after = detect(frames, shopper_confidence=0.9)
    assert sum(len(split(d)[0]) for d in after) < sum(len(split(d)[0]) for d in before)
    for old, new in zip(before, after, strict=True):
        assert (split(new)[0].confidence >= 0.9).all()
        np.testing.assert_allclose(split(new)[1].xyxy, split(old)[1].xyxy)


@pytest.mark.parametrize("field", ["confidence", "shopper_confidence"])
def test_a_threshold_outside_0_to_1_is_refused_naming_it(field):
    with pytest.raises(ValueError, match=f"detector.{field} must be between 0 and 1"):
        DetectorConfig(**{field: 1.5})
