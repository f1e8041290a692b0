"""Attach each detected hand to the tracked shopper it belongs to.

A hand belongs to a shopper whose body it is within arm's reach of. Cost of (hand, shopper) is the
distance from the hand centre to the shopper's box, in units of the box diagonal; a hand that was
owned by a shopper in the previous frame (a hand nearby, same owner) gets a bonus, so a hand does
not jump between two shoppers standing side by side. One optimal assignment per frame, each
shopper taking at most two hands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv
from scipy.optimize import linear_sum_assignment

OWNER_KEY = "owner"  # Detections.data key: the owning shopper's tracker id (-1: none)
FORBIDDEN = 1e6


@dataclass(frozen=True)
class HandConfig:
    """``max_reach`` and ``stickiness`` are in units of the shopper box diagonal; ``memory_px`` in pixels."""

    max_reach: float = 0.6
    stickiness: float = 0.25
    memory_px: float = 25.0
    hands_per_shopper: int = 2


def _distance_to_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """points (N, 2), boxes (M, 4) xyxy -> (N, M) Euclidean distance from each point to each box (0 inside)."""
    dx = np.maximum(np.maximum(boxes[None, :, 0] - points[:, None, 0], 0), points[:, None, 0] - boxes[None, :, 2])
    dy = np.maximum(np.maximum(boxes[None, :, 1] - points[:, None, 1], 0), points[:, None, 1] - boxes[None, :, 3])
    return np.hypot(dx, dy)


class HandAssociator:
    """Per-video state: the hands of the previous frame and their owners."""

    def __init__(self, config: HandConfig):
        self.config = config
        self._previous_xy = np.empty((0, 2))
        self._previous_owner = np.empty(0, dtype=int)

    def associate(self, hands: sv.Detections, shoppers: sv.Detections) -> sv.Detections:
        """Return ``hands`` with ``data['owner']`` set to a shopper tracker id, or -1 when none is in reach.

        Hands that already carry an owner (pose models: wrists of a tracked person) keep it.
        """
        owners = np.full(len(hands), -1, dtype=int)
        if len(hands) and len(shoppers):
            centres = hands.get_anchors_coordinates(sv.Position.CENTER)
            boxes = shoppers.xyxy
            diagonal = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            cost = _distance_to_boxes(centres, boxes) / np.maximum(diagonal, 1.0)[None, :]
            # Tie-break inside overlapping boxes: prefer the shopper whose centre is nearer.
            box_centres = shoppers.get_anchors_coordinates(sv.Position.CENTER)
            cost = cost + 0.05 * np.linalg.norm(centres[:, None] - box_centres[None], axis=2) / diagonal[None, :]
            if len(self._previous_xy):
                gap = np.linalg.norm(centres[:, None] - self._previous_xy[None], axis=2)
                nearest = gap.argmin(axis=1)
                remembered = np.where(gap[np.arange(len(centres)), nearest] <= self.config.memory_px,
                                      self._previous_owner[nearest], -1)
                cost -= self.config.stickiness * (remembered[:, None] == shoppers.tracker_id[None, :])
            cost = np.where(_distance_to_boxes(centres, boxes) / np.maximum(diagonal, 1.0)[None, :] > self.config.max_reach,
                            FORBIDDEN, cost)
            slots = np.repeat(np.arange(len(shoppers)), self.config.hands_per_shopper)
            rows, cols = linear_sum_assignment(cost[:, slots])
            keep = cost[rows, slots[cols]] < FORBIDDEN
            owners[rows[keep]] = shoppers.tracker_id[slots[cols[keep]]]
        if OWNER_KEY in hands.data:
            preset = np.asarray(hands.data[OWNER_KEY], dtype=int)
            owners = np.where(preset >= 0, preset, owners)
        hands.data[OWNER_KEY] = owners
        self._previous_xy = hands.get_anchors_coordinates(sv.Position.CENTER) if len(hands) else np.empty((0, 2))
        self._previous_owner = owners
        return hands
