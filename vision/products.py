"""What a hand holds: a sku and a count (0 = empty hand).

Sources, chosen by ``HeldConfig.source`` (``auto``: the classifier when its file exists, else the
hand model's item boxes when it names held products, else the detector's boxes):
- ``hand_model``: the second-stage model (``vision.hand_detector``) finds every held item as a box
  of class ``held_<sku>`` in the crop around its shopper; each item goes to its nearest hand. A hand
  holding three products shows three boxes, so a second pick into a full hand is still seen;
- ``classifier``: a hand-crop classifier (an ultralytics classification model whose classes are
  ``empty`` and ``sku_<sku>_x<count>``) run on a full-resolution crop around each hand: small
  products stay legible even when the detector runs at a reduced input size;
- ``boxes``: the detector's own product boxes whose centre lies in the (enlarged) hand box;
- ``reach``: no product evidence at all (real footage with a person/hand model only, e.g. the
  MediaPipe backend). Its rule is an assumption, not a measurement: a hand that stayed in a shelf
  zone for ``reach_min_s`` (of observed frames) and then left it took one unnamed item, so the event
  logic names it from the planogram of the zone. It cannot see returns or empty-handed touches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
import supervision as sv

from vision.errors import InputError
from vision.models import classify_probabilities, load_classify_model

EMPTY_CLASS = "empty"
HELD_PREFIX = "held_"  # second-stage detector classes for a product in a hand: held_<sku>
HELD_SOURCES = ("auto", "hand_model", "classifier", "boxes", "reach")
HELD_CLASS = re.compile(r"^sku_(?P<sku>.+)_x(?P<count>\d+)$")


@dataclass(frozen=True)
class HeldConfig:
    """``crop_scale``: crop side as a multiple of the hand box's longer side; ``crop_min_px`` its floor.
    ``source``: one of ``HELD_SOURCES`` (module docstring); ``reach_min_s``: how long (observed frames
    at the camera's rate) a hand must stay in a shelf zone for the ``reach`` source to count it as taking an item.
    ``max_hand_distance``: a held-item box goes to the nearest hand whose centre is within this many
    hand-box sides (longer side) of its own centre (``hand_model`` source); farther ones are dropped."""

    def __post_init__(self) -> None:
        if self.source not in HELD_SOURCES:
            raise ValueError(f"held.source must be one of {', '.join(HELD_SOURCES)}, got {self.source!r}")

    classifier_path: str = ""
    source: str = "auto"
    reach_min_s: float = 0.2
    crop_scale: float = 2.5
    crop_min_px: int = 24
    imgsz: int = 64
    hand_box_scale: float = 1.8
    max_hand_distance: float = 5.0


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
        path = config.classifier_path
        self.model, names = load_classify_model(path, "hand-crop classifier not found", what="classifier")
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
        return self.classify_many([frame], [hands_xyxy])[0]

    def classify_many(self, frames: list[np.ndarray], boxes: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``classify`` for several frames in one model call (one (N_i, 4) box array per frame)."""
        crops, sizes = [], []
        for frame, hands_xyxy in zip(frames, boxes, strict=True):
            sizes.append(len(hands_xyxy))
            if len(hands_xyxy):
                crops += hand_crops(frame, hands_xyxy, self.config.crop_scale, self.config.crop_min_px,
                                    self.config.imgsz)
        top = np.empty(0, dtype=int)
        confidence = np.empty(0)
        if crops:
            probabilities = classify_probabilities(self.model, crops, self.config.imgsz)
            top = probabilities.argmax(axis=1)
            confidence = probabilities[np.arange(len(top)), top].astype(float)
        out, start = [], 0
        for size in sizes:
            pick = top[start:start + size]
            out.append((self.skus[pick].astype(str), self.counts[pick], confidence[start:start + size]))
            start += size
        return out


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


def held_near_hands(hands: sv.Detections, items: sv.Detections, max_distance: float) -> pd.DataFrame:
    """Held-item boxes (``data['sku']``) -> what each hand holds, one row per (hand, sku):
    columns ``hand`` (row in ``hands``), ``sku``, ``count`` and ``sku_confidence`` (mean box confidence).

    Each item goes to the hand with the nearest centre, if that is within ``max_distance`` times
    the hand box's longer side; items held side by side are counted one by one."""
    columns = ["hand", "sku", "count", "sku_confidence"]
    if not len(hands) or not len(items):
        return pd.DataFrame(columns=columns)
    hand_centres = hands.get_anchors_coordinates(sv.Position.CENTER)
    item_centres = items.get_anchors_coordinates(sv.Position.CENTER)
    distance = np.linalg.norm(item_centres[:, None, :] - hand_centres[None, :, :], axis=2)  # (items, hands)
    nearest = distance.argmin(axis=1)
    side = (hands.xyxy[:, 2:] - hands.xyxy[:, :2]).max(axis=1)
    close = distance[np.arange(len(items)), nearest] <= max_distance * side[nearest]
    confidence = items.confidence if items.confidence is not None else np.ones(len(items))
    table = pd.DataFrame({"hand": nearest[close], "sku": np.asarray(items.data["sku"], dtype=str)[close],
                          "confidence": confidence[close]})
    grouped = table.groupby(["hand", "sku"], sort=True)["confidence"].agg(["size", "mean"]).reset_index()
    return grouped.rename(columns={"size": "count", "mean": "sku_confidence"})[columns]


def held_after_reach(hands: pd.DataFrame, min_frames: int) -> pd.DataFrame:
    """The ``reach`` source over a video's hand table (``vision.events.HAND_COLUMNS``).

    Per owner, over the frames where any of their hands is observed: a *reach* is a run of frames
    with some hand in a shelf zone (``zone >= 0``) lasting ``min_frames`` or more; it is complete at
    the next observed frame with no hand in a zone. From then on the owner holds one more unnamed
    item (sku '', confidence 0: the event logic names it from the zone's planogram). The count is put
    on one row per (owner, frame), so summing over an owner's hands gives it once. Returns a copy.
    """
    out = hands.copy()
    out["sku"], out["count"], out["sku_confidence"] = "", 0, 0.0
    owned = out[out["owner"] >= 0]
    if owned.empty:
        return out
    per_frame = owned.assign(inside=owned["zone"] >= 0).groupby(["owner", "frame"], sort=True)["inside"].any()
    first_rows = owned.reset_index().groupby(["owner", "frame"], sort=True)["index"].first()
    for owner in per_frame.index.get_level_values(0).unique():
        inside = per_frame.loc[owner].to_numpy()  # (F,) bool over the owner's observed frames
        run_start = np.r_[True, inside[1:] != inside[:-1]]
        run_id = np.cumsum(run_start) - 1
        run_length = np.bincount(run_id)
        previous_length = run_length[np.maximum(run_id - 1, 0)]
        # A reach completes at the first frame of an out-of-zone run that follows a long in-zone run.
        completes = run_start & ~inside & (run_id > 0) & (previous_length >= min_frames)
        held = np.cumsum(completes)
        rows = first_rows.loc[owner].to_numpy()
        out.loc[rows, "count"] = held
    return out
