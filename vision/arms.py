"""Arms: whose hand is where, from the arm that leads to it (the optional ``[arms]`` stage, off by default).

A hand reaching past another shopper is often hidden behind that shopper's head and shoulders, and a
hand inside two shoppers' boxes is ambiguous by position alone. An arm model places each shopper's
wrists from the whole arm: any ultralytics pose model (COCO 17 keypoints, or walkout's 6 arm joints of
``mockstore.yolo.pose_lines``), or the experimental wrist model (``walkout train --wrists``: a detector
on a crop around each shopper that finds that shopper's own wrists, hidden ones included). Each pose
person is given the tracked shopper whose box it overlaps most, then:

- a detected hand at a wrist takes that wrist's shopper as its owner (``own_hands``);
- a wrist with no detected hand on it becomes a *hidden* hand of its shopper (``hidden_hands``): where
  the hand is, not what it holds. Hidden hands count for reaches (who had a hand at a shelf) and are
  kept out of the hand-to-product events, which need to see the hand's contents.

Measured on the mock store (see models/README.md): the wrist model finds the taker's hand at the
changed plates far more often, but at its present accuracy the fused receipts do not improve, so the
stage stays off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import supervision as sv
from scipy.optimize import linear_sum_assignment

from vision.detector import ROLE_HAND, ROLE_SHOPPER, Detector, DetectorConfig
from vision.errors import InputError
from vision.hand_detector import predict_on_shopper_crops
from vision.hands import OWNER_KEY

HIDDEN_KEY = "hidden"
WRIST_CLASS = "own_wrist"  # the one class of a wrist model (walkout.train.build_wrist_crops)


@dataclass(frozen=True)
class ArmConfig:
    """The optional arm-pose stage (off while ``model_path`` is empty).

    match_iou: a pose person is the tracked shopper its box overlaps most, at least this IoU.
    claim: a detected hand whose centre is within this many hand-box sides of a wrist is that wrist.
    min_keypoint_confidence: wrists the model is less sure of are ignored.
    """

    model_path: str = ""
    imgsz: int = 320
    confidence: float = 0.3
    iou: float = 0.6
    min_keypoint_confidence: float = 0.5
    match_iou: float = 0.3
    claim: float = 1.5
    hand_size: float = 0.12
    own_hands: bool = True
    hidden_hands: bool = True
    crop_margin: float = 0.35

    @property
    def enabled(self) -> bool:
        return bool(self.model_path)


def wrist_owners(poses: sv.Detections, tracked: sv.Detections, match_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Wrists of ``poses`` (a pose Detector's output for one frame) and their shoppers' tracker ids.

    Returns (W, 2) wrist centres in pixels and (W,) tracker ids (-1: the pose person matches no track).
    Pose people and tracks are matched one to one, by the largest total IoU."""
    people = poses[poses.data["role"] == ROLE_SHOPPER]
    wrists = poses[poses.data["role"] == ROLE_HAND]
    centres = wrists.get_anchors_coordinates(sv.Position.CENTER) if len(wrists) else np.empty((0, 2))
    owners = np.full(len(wrists), -1, dtype=int)
    if not len(wrists) or not len(people) or not len(tracked):
        return centres, owners
    overlap = sv.box_iou_batch(people.xyxy, tracked.xyxy)
    rows, cols = linear_sum_assignment(-overlap)
    track_of = {int(r): int(tracked.tracker_id[c]) for r, c in zip(rows, cols, strict=True) if overlap[r, c] >= match_iou}
    owners = np.array([track_of.get(int(p), -1) for p in wrists.data["person"]], dtype=int)
    return centres, owners


def apply_arms(hands: sv.Detections, centres: np.ndarray, owners: np.ndarray, config: ArmConfig) -> sv.Detections:
    """Hands (with ``data[OWNER_KEY]``) after the arm evidence: owners taken from the wrists they sit at,
    plus hidden hands at wrists no detected hand is on (``data[HIDDEN_KEY]`` True). Every returned hand
    has ``data[HIDDEN_KEY]``."""
    hands.data[HIDDEN_KEY] = np.zeros(len(hands), dtype=bool)
    keep = owners >= 0
    centres, owners = centres[keep], owners[keep]
    claimed = np.zeros(len(centres), dtype=bool)
    if len(hands) and len(centres):
        hand_xy = hands.get_anchors_coordinates(sv.Position.CENTER)
        side = np.maximum(hands.xyxy[:, 2] - hands.xyxy[:, 0], hands.xyxy[:, 3] - hands.xyxy[:, 1])
        distance = np.linalg.norm(hand_xy[:, None, :] - centres[None, :, :], axis=2)
        near = distance <= config.claim * side[:, None]
        rows, cols = linear_sum_assignment(np.where(near, distance, 1e9))
        matched = near[rows, cols]
        rows, cols = rows[matched], cols[matched]
        claimed[cols] = True
        if config.own_hands:
            hands.data[OWNER_KEY] = np.asarray(hands.data[OWNER_KEY], dtype=int).copy()
            hands.data[OWNER_KEY][rows] = owners[cols]
    if not config.hidden_hands or claimed.all():
        return hands
    free = ~claimed
    half = np.full(int(free.sum()), 8.0)
    xy = centres[free]
    hidden = sv.Detections(
        xyxy=np.column_stack([xy - half[:, None], xy + half[:, None]]),
        confidence=np.zeros(len(xy)),
        class_id=np.full(len(xy), -1, dtype=int),
        data={key: _filler(hands.data[key], len(xy)) for key in hands.data}
        | {OWNER_KEY: owners[free], HIDDEN_KEY: np.ones(len(xy), dtype=bool)},
    )
    return sv.Detections.merge([hands, hidden]) if len(hands) else hidden


def _filler(column: np.ndarray, n: int) -> np.ndarray:
    """A column of n neutral values of ``column``'s kind (for data keys the hidden hands do not use)."""
    column = np.asarray(column)
    if column.dtype.kind in "iu":
        return np.full(n, -1, dtype=column.dtype)
    if column.dtype.kind == "f":
        return np.zeros(n, dtype=column.dtype)
    if column.dtype.kind == "b":
        return np.zeros(n, dtype=bool)
    return np.full(n, "", dtype=column.dtype if column.dtype.kind == "U" else object)


class ArmEstimator:
    """Loads the arm model once; ``detect(frames, detections)`` -> one pose-like Detections per frame:
    people (role shopper) then wrists (role hand, ``data['person']`` = their person's row).

    Two kinds of model: a pose model (people and wrists from the full frame), or a *wrist* model
    (``walkout-wrists.pt``: a detector run on a crop around each detected shopper that finds that
    shopper's own wrists, hidden ones included, and not the wrists of others in the crop)."""

    def __init__(self, config: ArmConfig):
        self.config = config
        self.detector = Detector(DetectorConfig(
            model_path=str(Path(config.model_path)), imgsz=config.imgsz, confidence=config.confidence, iou=config.iou,
            pose_hand_size=config.hand_size, pose_min_keypoint_confidence=config.min_keypoint_confidence,
            shopper_classes=("shopper", "person", WRIST_CLASS),  # a wrist model's one class passes the check
        ))
        if self.detector.task not in ("pose", "detect"):
            raise InputError(config.model_path,
                             f"arms.model_path must be a pose or wrist model (this one is '{self.detector.task}')")

    def detect(self, frames: list[np.ndarray], detections: list[sv.Detections]) -> list[sv.Detections]:
        if self.detector.task == "pose":
            return self.detector.detect(frames)
        # One model call per frame, as measured (models/README.md): ultralytics letterboxes a batch of
        # crops of one shape differently from a mixed batch, so batching frames changes the wrists a little.
        out = []
        for frame, dets in zip(frames, detections, strict=True):
            (rows,) = predict_on_shopper_crops(self.detector.model, [frame], [dets], self.config.crop_margin,
                                               imgsz=self.config.imgsz, conf=self.config.confidence, iou=self.config.iou)
            out.append(self._own_wrists(dets, rows))
        return out

    @staticmethod
    def _own_wrists(dets: sv.Detections, rows: list[tuple[int, np.ndarray]]) -> sv.Detections:
        """The frame's shoppers (role shopper) and each one's own wrists (at most two, most confident)."""
        boxes = dets.xyxy[dets.data["role"] == ROLE_SHOPPER] if len(dets) else np.empty((0, 4))
        wrists = [(row, found[k]) for row, found in rows for k in np.argsort(-found[:, 4])[:2]]
        n, m = len(boxes), len(wrists)
        table = np.array([w for _, w in wrists], dtype=float).reshape(-1, 6)
        return sv.Detections(
            xyxy=np.vstack([boxes, table[:, :4]]),
            confidence=np.concatenate([np.ones(n), table[:, 4]]),
            class_id=np.full(n + m, -1, dtype=int),
            data={"role": np.array([ROLE_SHOPPER] * n + [ROLE_HAND] * m, dtype=int),
                  "sku": np.full(n + m, "", dtype=object).astype(str),
                  "person": np.array([-1] * n + [row for row, _ in wrists], dtype=int)},
        )
