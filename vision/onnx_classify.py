"""Running an exported ultralytics classify model (.onnx, dynamic shapes) with ONNX Runtime directly.

ultralytics' classify predictor needs torch and torchvision (its transforms, its tensors): importing
them is seconds of every run's start. This module does the predictor's steps in numpy and Pillow, the
way ultralytics and torchvision do them, so the probabilities are the same:

- torchvision's ``Resize(imgsz)`` on a Pillow image: the shorter side to ``imgsz``, the longer to
  ``int(imgsz * long / short)``, Pillow's bilinear resampling (``Image.resize``);
- ``CenterCrop(imgsz)``: top and left ``int(round((side - imgsz) / 2))``;
- BGR -> RGB, HWC -> CHW, float32 / 255 (ultralytics' classify mean 0 and std 1 change nothing), the
  whole batch in one ``session.run``; the export's output is already the softmax.

Only classify models exported with dynamic shapes (``walkout export`` makes them) take this route;
anything else runs through ultralytics.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from vision.runtime import ExportedModel


class OnnxClassify(ExportedModel):
    """An exported classify model in an ONNX Runtime session. ``predict(images, imgsz)`` -> (N, classes)
    float32 probabilities, one row per image."""

    task = "classify"
    default_stride = 1

    def predict(self, images: list[np.ndarray], imgsz: int) -> np.ndarray:
        """``images``: BGR uint8 (H, W, 3) of any sizes -> (N, classes) probabilities."""
        if not images:
            return np.empty((0, len(self.names)), dtype=np.float32)
        side = max(self.stride, math.ceil(imgsz / self.stride) * self.stride)  # ultralytics' check_imgsz
        batch = np.stack([resize_and_crop(image, side) for image in images])
        batch = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2)).astype(np.float32) / 255
        return self.session.run(None, {self.input_name: batch})[0]


def resize_and_crop(image: np.ndarray, side: int) -> np.ndarray:
    """torchvision's ``Resize(side)`` then ``CenterCrop(side)`` on ``image`` as a Pillow image (what
    ultralytics' classify predictor runs on each image): a (side, side, 3) uint8 array."""
    height, width = image.shape[:2]
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = side, int(side * long / short)
    new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    picture = Image.fromarray(image)
    if (new_w, new_h) != (width, height):
        picture = picture.resize((new_w, new_h), Image.BILINEAR)
    top, left = int(round((new_h - side) / 2.0)), int(round((new_w - side) / 2.0))
    return np.asarray(picture)[top:top + side, left:left + side]
