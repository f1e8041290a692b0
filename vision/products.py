"""What a hand holds: a sku and a count (0 = empty hand).

Two sources, chosen by what the models offer:
- a hand-crop classifier (an ultralytics classification model whose classes are ``empty`` and
  ``sku_<sku>_x<count>``) run on a full-resolution crop around each hand: small products stay
  legible even when the detector runs at a reduced input size;
- otherwise the detector's own product boxes whose centre lies in the (enlarged) hand box.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import supervision as sv

from vision.errors import InputError

EMPTY_CLASS = "empty"
HELD_CLASS = re.compile(r"^sku_(?P<sku>.+)_x(?P<count>\d+)$")


@dataclass(frozen=True)
class HeldConfig:
    """``crop_scale``: crop side as a multiple of the hand box's longer side; ``crop_min_px`` its floor."""

    classifier_path: str = ""
    crop_scale: float = 2.5
    crop_min_px: int = 24
    imgsz: int = 64
    hand_box_scale: float = 1.8


def hand_crops(frame: np.ndarray, hands_xyxy: np.ndarray, scale: float, min_px: int, size: int) -> list[np.ndarray]:
    """Square crops centred on each hand, resized to (size, size). hands_xyxy: (N, 4) pixels."""
    height, width = frame.shape[:2]
    crops = []
    for x1, y1, x2, y2 in np.asarray(hands_xyxy, dtype=float):
        side = max(min_px, scale * max(x2 - x1, y2 - y1))
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        a, b = int(round(cx - side / 2)), int(round(cy - side / 2))
        s = int(round(side))
        padded = np.zeros((s, s, 3), dtype=frame.dtype)
        xa, ya, xb, yb = max(a, 0), max(b, 0), min(a + s, width), min(b + s, height)
        if xb > xa and yb > ya:
            padded[ya - b : yb - b, xa - a : xa - a + (xb - xa)] = frame[ya:yb, xa:xb]
        crops.append(cv2.resize(padded, (size, size), interpolation=cv2.INTER_AREA))
    return crops


class HeldItemClassifier:
    """An ultralytics classification model over hand crops."""

    def __init__(self, config: HeldConfig):
        path = Path(config.classifier_path)
        if not path.exists():
            raise InputError(path, "hand-crop classifier not found")
        from ultralytics import YOLO

        try:
            self.model = YOLO(str(path), task="classify")
            names = {int(k): str(v) for k, v in self.model.names.items()}
        except Exception as exc:
            raise InputError(path, f"not a classifier ultralytics can load ({type(exc).__name__}: {exc})") from None
        self.config = config
        self.skus = np.full(len(names), "", dtype=object)
        self.counts = np.zeros(len(names), dtype=int)
        for class_id, name in names.items():
            match = HELD_CLASS.match(name)
            if match:
                self.skus[class_id], self.counts[class_id] = match["sku"], int(match["count"])
            elif name != EMPTY_CLASS:
                raise InputError(path, f"class {name!r} is neither 'empty' nor 'sku_<sku>_x<count>'")

    def classify(self, frame: np.ndarray, hands_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns (sku (N,) str, count (N,) int, confidence (N,) float) for N hand boxes."""
        if not len(hands_xyxy):
            return np.empty(0, dtype=str), np.empty(0, dtype=int), np.empty(0)
        crops = hand_crops(frame, hands_xyxy, self.config.crop_scale, self.config.crop_min_px, self.config.imgsz)
        results = self.model.predict(crops, imgsz=self.config.imgsz, verbose=False, device="cpu")
        top = np.array([int(r.probs.top1) for r in results])
        confidence = np.array([float(r.probs.top1conf) for r in results])
        return self.skus[top].astype(str), self.counts[top], confidence


def held_from_boxes(hands: sv.Detections, products: sv.Detections, hand_box_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detector fallback: products whose centre is inside a hand box scaled by ``hand_box_scale``.

    Returns (sku, count, confidence) per hand: the most frequent sku among its products.
    """
    n = len(hands)
    sku = np.full(n, "", dtype=object)
    count = np.zeros(n, dtype=int)
    confidence = np.zeros(n)
    if not n or not len(products):
        return sku.astype(str), count, confidence
    boxes = hands.xyxy
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * hand_box_scale / 2
    points = products.get_anchors_coordinates(sv.Position.CENTER)
    inside = np.all(np.abs(points[None, :, :] - centre[:, None, :]) <= half[:, None, :], axis=2)  # (hands, products)
    product_skus = np.asarray(products.data["sku"], dtype=object)
    product_conf = products.confidence if products.confidence is not None else np.ones(len(products))
    for i in np.flatnonzero(inside.any(axis=1)):
        mine = np.flatnonzero(inside[i])
        names, votes = np.unique(product_skus[mine], return_counts=True)
        best = names[votes.argmax()]
        sku[i], count[i] = best, int(votes.max())
        confidence[i] = float(product_conf[mine][product_skus[mine] == best].mean())
    return sku.astype(str), count, confidence
