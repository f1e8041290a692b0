"""Second-stage hand detector: finds hands in a full-resolution crop around each detected shopper.

A hand in a 640x360 ceiling view is about 15 px: at the full-frame detector's input size it is a
few pixels and hard to learn, but in a crop around its shopper (about 200 px, scaled to the hand
model's input) it is a tenth of the image. Crops of all shoppers of a batch of frames go through the
model together; boxes come back in frame pixels, duplicates from overlapping crops are merged by NMS.

The model may also name the products held in hands: classes ``held_<sku>``, one box per item (the
mock-store model does). They come back with role ``ROLE_HELD`` and their sku, so a hand holding
three items shows three boxes; ``vision.products.held_near_hands`` gives each to its nearest hand.
A model with only a ``hand`` class finds hands alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv

from vision.detector import ROLE_HAND, ROLE_HELD, ROLE_SHOPPER
from vision.errors import InputError
from vision.models import load_detect_model
from vision.onnx_detect import OnnxDetect
from vision.products import HELD_PREFIX


@dataclass(frozen=True)
class HandDetectorConfig:
    """``margin``: crop grows by this share of the shopper box on every side (reaching arms)."""

    model_path: str = ""
    imgsz: int = 192
    confidence: float = 0.3
    iou: float = 0.5
    margin: float = 0.35
    nms_iou: float = 0.4


def shopper_crop_boxes(shoppers_xyxy: np.ndarray, margin: float, width: int, height: int) -> np.ndarray:
    """(N, 4) shopper boxes -> (N, 4) integer crop boxes grown by ``margin`` and clipped to the image."""
    boxes = np.asarray(shoppers_xyxy, dtype=float).reshape(-1, 4)
    size = boxes[:, 2:] - boxes[:, :2]
    grown = np.hstack([boxes[:, :2] - margin * size, boxes[:, 2:] + margin * size])
    grown[:, [0, 2]] = grown[:, [0, 2]].clip(0, width)
    grown[:, [1, 3]] = grown[:, [1, 3]].clip(0, height)
    return np.round(grown).astype(int)


def shopper_crops(frames: list[np.ndarray], boxes: list[np.ndarray], margin: float
                  ) -> tuple[list[np.ndarray], list[tuple[int, int, int, int]]]:
    """Crops around every box of every frame (``boxes[i]``: (N, 4) xyxy of frame i; ``shopper_crop_boxes``),
    crops under 8 px skipped. Returns the crops and, for each, (frame index, box row, crop x1, crop y1)."""
    crops, owners = [], []
    for index, (frame, xyxy) in enumerate(zip(frames, boxes, strict=True)):
        height, width = frame.shape[:2]
        for row, (x1, y1, x2, y2) in enumerate(shopper_crop_boxes(xyxy, margin, width, height)):
            if x2 - x1 >= 8 and y2 - y1 >= 8:
                crops.append(frame[y1:y2, x1:x2])
                owners.append((index, row, x1, y1))
    return crops, owners


def predict_on_shopper_crops(model, frames: list[np.ndarray], detections: list[sv.Detections], margin: float,
                             imgsz: int, conf: float, iou: float) -> list[list[tuple[int, np.ndarray]]]:
    """Run ``model`` (ultralytics, or ``OnnxDetect``) on a crop around every shopper of every frame
    (:func:`shopper_crops`), all crops in one call. Returns per frame a list of (shopper row among the
    frame's shoppers, (K, 6) boxes in frame pixels: x1, y1, x2, y2, confidence, class) for crops with boxes."""
    shoppers = [dets.xyxy[dets.data["role"] == ROLE_SHOPPER] if len(dets) else np.empty((0, 4)) for dets in detections]
    crops, owners = shopper_crops(frames, shoppers, margin)
    found: list[list[tuple[int, np.ndarray]]] = [[] for _ in frames]
    if not crops:
        return found
    if isinstance(model, OnnxDetect):
        tables = model.predict(crops, imgsz, conf, iou)
    else:
        results = model.predict(crops, imgsz=imgsz, conf=conf, iou=iou, device="cpu", verbose=False)
        tables = [np.empty((0, 6)) if result.boxes is None else result.boxes.data.cpu().numpy()[:, :6]
                  for result in results]
    for (index, row, x1, y1), table in zip(owners, tables, strict=True):
        if len(table):
            found[index].append((row, np.column_stack([table[:, :4] + np.array([x1, y1, x1, y1]), table[:, 4:6]])))
    return found


class HandDetector:
    """Runs the hand model on shopper crops and returns hands in frame coordinates."""

    def __init__(self, config: HandDetectorConfig):
        path = config.model_path
        self.model, names = load_detect_model(path, "detect", "hand model file not found")
        self.config = config
        self.roles = np.full(max(names) + 1, ROLE_HAND, dtype=int)
        self.skus = np.full(max(names) + 1, "", dtype=object)
        for class_id, name in names.items():
            if name.startswith(HELD_PREFIX):
                self.roles[class_id], self.skus[class_id] = ROLE_HELD, name[len(HELD_PREFIX):]
            elif name != "hand" and len(names) > 1:
                raise InputError(path, f"hand model class {name!r} is neither 'hand' nor '{HELD_PREFIX}<sku>'")
        self.names_held_items = bool((self.roles == ROLE_HELD).any())

    def add_hands(self, frames: list[np.ndarray], detections: list[sv.Detections]) -> list[sv.Detections]:
        """Replace the hands in each frame's detections by those found around its shoppers, and add the
        held products the model names (role ``ROLE_HELD``)."""
        found = predict_on_shopper_crops(self.model, frames, detections, self.config.margin, imgsz=self.config.imgsz,
                                         conf=self.config.confidence, iou=self.config.iou)
        out = []
        for dets, rows in zip(detections, found, strict=True):
            others = dets[~np.isin(dets.data["role"], (ROLE_HAND, ROLE_HELD))] if len(dets) else dets
            others.data = {key: others.data[key] for key in ("role", "sku", "person")}
            if not rows:
                out.append(others)
                continue
            table = np.vstack([boxes for _, boxes in rows])
            class_id = table[:, 5].astype(int)
            found_here = sv.Detections(
                xyxy=table[:, :4], confidence=table[:, 4], class_id=np.full(len(table), -1, dtype=int),
                data={"role": self.roles[class_id], "sku": self.skus[class_id].astype(str),
                      "person": np.full(len(table), -1, dtype=int)},
            )
            # Hands and held items apart: a hand and the item it grips overlap, and both must stay;
            # among items, one seen in two overlapping crops (even under two skus) is one item.
            found_here = sv.Detections.merge([
                found_here[found_here.data["role"] == role].with_nms(threshold=self.config.nms_iou, class_agnostic=True)
                for role in (ROLE_HAND, ROLE_HELD)])
            out.append(sv.Detections.merge([others, found_here]) if len(others) else found_here)
        return out
