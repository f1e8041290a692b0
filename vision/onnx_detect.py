"""Running an exported ultralytics detect model (.onnx, dynamic shapes) with ONNX Runtime directly.

ultralytics' own predictor wraps the ONNX session in torch tensors, ``Results`` objects and per-image
loops. This module does the same steps in numpy, the way ultralytics does them, so the boxes are the
same, and a 6-camera store render's cameras took 57.0 s instead of 59.1 s:

- letterbox: resize by the smaller ratio with ``cv2.INTER_LINEAR``, pad with grey 114 to the model
  stride (images of one shape, rectangular input) or to a square of ``imgsz`` (mixed shapes);
- BGR -> RGB, HWC -> CHW, float32 / 255, the whole batch in one ``session.run``;
- boxes whose best class score is over ``conf``, then NMS per class (boxes offset by class, as
  ultralytics does) at ``iou``, at most ``MAX_DET`` boxes, scaled back to image pixels and clipped.

No torch: with this module and :mod:`vision.onnx_classify`, a run on exported models never imports
torch, torchvision or ultralytics (seconds of every run's start).

Only detect models exported with dynamic shapes (``walkout export`` makes them) take this route;
anything else (a .pt, a pose or classify model, a static export) runs through ultralytics.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vision.runtime import ExportedModel

PAD_VALUE = 114  # ultralytics' letterbox grey
MAX_DET = 300  # ultralytics' max_det
CLASS_OFFSET = 7680.0  # ultralytics' max_wh: boxes of different classes never overlap in NMS


class OnnxDetect(ExportedModel):
    """An exported detect model in an ONNX Runtime session. ``predict(images, imgsz, conf, iou)``
    -> one (K, 6) float32 table per image: x1, y1, x2, y2, confidence, class."""

    task = "detect"

    def predict(self, images: list[np.ndarray], imgsz: int, conf: float, iou: float) -> list[np.ndarray]:
        """``images``: BGR uint8 (H, W, 3). Boxes per image in image pixels (see the class)."""
        if not images:
            return []
        side = max(self.stride, math.ceil(imgsz / self.stride) * self.stride)  # ultralytics' check_imgsz
        same_shapes = len({image.shape for image in images}) == 1
        letterboxed = [letterbox(image, side, self.stride if same_shapes else None) for image in images]
        batch = np.stack([padded for padded, _, _ in letterboxed])
        batch = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2)).astype(np.float32) / 255
        output = self.session.run(None, {self.input_name: batch})[0]  # (B, 4 + classes, anchors)
        tables = []
        for prediction, (_, gain, pad), image in zip(output, letterboxed, images, strict=True):
            tables.append(to_image(select(prediction, conf, iou), gain, pad, image.shape[:2]))
        return tables


def letterbox(image: np.ndarray, side: int, stride: int | None) -> tuple[np.ndarray, tuple[float, float], tuple[int, int]]:
    """ultralytics' LetterBox: ``image`` scaled by the smaller of side/height, side/width, padded (grey,
    centred) to a multiple of ``stride`` (rectangular) or, ``stride`` None, to side x side. Returns the
    padded image, the (x, y) gains and the (left, top) padding."""
    height, width = image.shape[:2]
    ratio = min(side / height, side / width)
    new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    pad_w, pad_h = side - new_w, side - new_h
    if stride is not None:
        pad_w, pad_h = pad_w % stride, pad_h % stride
    pad_w, pad_h = pad_w / 2, pad_h / 2
    if (width, height) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return padded, (new_w / width, new_h / height), (left, top)


def select(prediction: np.ndarray, conf: float, iou: float) -> np.ndarray:
    """One image's raw output (4 + classes, anchors: cx, cy, w, h, class scores) -> (K, 6) boxes in
    network pixels after the confidence filter and per-class NMS, best first."""
    scores = prediction[4:]
    best = scores.max(axis=0)
    keep = best > conf
    if not keep.any():
        return np.empty((0, 6), dtype=np.float32)
    rows = prediction[:, keep].T  # (N, 4 + classes)
    centre, half = rows[:, :2], rows[:, 2:4] / 2
    cls = rows[:, 4:].argmax(axis=1)
    table = np.column_stack([centre - half, centre + half, best[keep], cls.astype(np.float32)])
    kept = nms(table[:, :4] + table[:, 5:6] * np.float32(CLASS_OFFSET), table[:, 4], iou)
    return table[kept[:MAX_DET]]


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the boxes (x1, y1, x2, y2) kept by greedy non-maximum suppression, highest score first:
    a box goes when its IoU with a kept one is over ``threshold``. OpenCV's C++ ``NMSBoxes``, which keeps
    the boxes ``torchvision.ops.nms`` (what ultralytics calls) keeps, ties in score included
    (tests/vision/test_vision_onnx_detect.py), without importing torch. Scores must be over 0 (OpenCV
    drops the others; here they are over the confidence threshold)."""
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float64)
    kept = cv2.dnn.NMSBoxes(xywh, scores.astype(np.float32), 0.0, float(threshold))
    return np.asarray(kept, dtype=int).reshape(-1)


def to_image(table: np.ndarray, gain: tuple[float, float], pad: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Boxes from network pixels back to the image's (ultralytics' scale_boxes), clipped to it."""
    table = table.copy()
    height, width = shape
    table[:, [0, 2]] = ((table[:, [0, 2]] - pad[0]) / gain[0]).clip(0, width)
    table[:, [1, 3]] = ((table[:, [1, 3]] - pad[1]) / gain[1]).clip(0, height)
    return table
