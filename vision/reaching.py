"""Reaching: is each tracked shopper reaching into a shelf? (the ``[reaching]`` stage).

Seen from a ceiling camera behind the shoppers, the hand that takes a product is mostly hidden by the
taker's own head and shoulders or by another shopper, so hand-in-zone evidence often misses the taker.
The posture does not hide as easily: a reaching shopper leans towards the shelf and lifts an arm.
A reach classifier (``walkout train --reach``: an ultralytics classification model with classes
``idle`` and ``reaching``, trained on crops around mock-store shoppers labelled with the render's own
reach extent) gives every tracked box of every frame a probability of reaching, written as the
``reaching`` column of ``tracks.csv``. Fusion prefers, among the shoppers standing in front of a
weight change, those reaching while it happened (``fusion.presence``). On by default with
``models/walkout-reach.pt``; ``[reaching] model_path = ""`` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.tables import REACHING_COLUMN
from vision.errors import InputError
from vision.hand_detector import shopper_crops
from vision.models import classify_probabilities, load_classify_model

REACHING_CLASS = "reaching"
REACHING_KEY = REACHING_COLUMN  # the tracks.csv column


@dataclass(frozen=True)
class ReachingConfig:
    """The reach classifier stage (off when ``model_path`` is empty).

    margin: the crop is the tracked box grown by this share of its size on each side (as in training).
    imgsz: the classifier's input size.
    """

    model_path: str = ""
    margin: float = 0.35
    imgsz: int = 96

    @property
    def enabled(self) -> bool:
        return bool(self.model_path)


class ReachClassifier:
    """Loads the reach classifier once; ``classify(frames, boxes)`` -> per frame, each box's probability
    of ``reaching``."""

    def __init__(self, config: ReachingConfig):
        path = Path(config.model_path)
        self.model, names = load_classify_model(path, "reach classifier not found (reaching.model_path)")
        if self.model.task != "classify" or REACHING_CLASS not in names.values():
            raise InputError(path, f"reaching.model_path must be a classifier with a '{REACHING_CLASS}' class "
                                   f"(task '{self.model.task}', classes {sorted(names.values())})")
        self.index = next(k for k, v in names.items() if v == REACHING_CLASS)
        self.config = config

    def classify(self, frames: list[np.ndarray], boxes: list[np.ndarray]) -> list[np.ndarray]:
        """``boxes[i]``: (N, 4) xyxy of frame i's tracked shoppers -> (N,) probabilities (NaN for a box
        too small to crop), all crops of all frames in one model call."""
        out = [np.full(len(b), np.nan) for b in boxes]
        crops, owners = shopper_crops(frames, boxes, self.config.margin)
        if crops:
            reaching = classify_probabilities(self.model, crops, self.config.imgsz)[:, self.index].astype(float)
            for (i, row, _, _), value in zip(owners, reaching, strict=True):
                out[i][row] = value
        return out
