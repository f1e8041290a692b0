"""The detector adapter: any ultralytics detect or pose model, loaded by ``vision.models`` (walkout's own
ONNX exports run in ONNX Runtime without ultralytics, ``vision.onnx_detect``).

Any ultralytics model works (.pt, exported .onnx, an OpenVINO folder): a class-role mapping says
which of its classes are shoppers, hands and products (and which sku a product class is). Pose
models (COCO 17 keypoints) give people, and their wrists become hands already attached to their
person. Output per frame: one ``supervision.Detections`` with ``data['role']`` (ROLE_* codes),
``data['sku']`` (str, '' when not a product of known sku) and ``data['person']`` (for pose hands: the
row index of the person they belong to, else -1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import supervision as sv

from vision.errors import InputError
from vision.models import load_detect_model
from vision.onnx_detect import OnnxDetect

ROLE_IGNORED, ROLE_SHOPPER, ROLE_HAND, ROLE_PRODUCT = -1, 0, 1, 2
ROLE_HELD = 3  # a product in a hand, named by the second-stage model (vision.hand_detector)
BACKENDS = ("ultralytics", "mediapipe")
PIPELINE_KEYS = ("role", "sku", "person")  # Detections.data keys every backend fills
COCO_LEFT_WRIST, COCO_RIGHT_WRIST = 9, 10
# Wrist keypoints by keypoint count: COCO's 17, and the 6 arm joints of walkout's own pose model
# (mockstore.figures.ARM_KEYPOINTS: shoulder, elbow, wrist of the left arm, then of the right).
WRISTS_BY_LAYOUT = {17: (COCO_LEFT_WRIST, COCO_RIGHT_WRIST), 6: (2, 5)}


@dataclass(frozen=True)
class DetectorConfig:
    """Which model, at which input size, and what its classes mean.

    ``product_skus`` maps a class name to a sku explicitly; classes named ``{product_prefix}<sku>``
    map to ``<sku>`` without listing them. ``pose_hand_size`` is the side of a wrist's hand box as a
    share of its person's box height; ``pose_wrists`` the wrist keypoint indices (empty: by the
    model's keypoint count, ``WRISTS_BY_LAYOUT``).

    ``backend``: ``"ultralytics"`` (the model at ``model_path``) or ``"mediapipe"`` (offline pose +
    hand landmarks, see ``vision.mediapipe_hands``; ``model_path`` unused). MediaPipe settings: a hand
    whose wrist is within ``mediapipe_wrist_match`` hand-box sides of a pose wrist is that wrist; a hand
    within ``mediapipe_hand_reach`` (share of the person box diagonal) of the pose person is theirs;
    any other hand gets a stand-in person, its box grown ``mediapipe_standin_scale`` times; the pose
    person's hands within ``mediapipe_resting_hand`` torso lengths of a hip are at rest and dropped.
    """

    model_path: str = ""
    imgsz: int = 640
    confidence: float = 0.25
    shopper_confidence: float = 0.25
    iou: float = 0.6
    device: str = "cpu"
    batch: int = 4
    shopper_classes: tuple[str, ...] = ("shopper", "person")
    hand_classes: tuple[str, ...] = ("hand",)
    product_prefix: str = "sku_"
    generic_product_classes: tuple[str, ...] = ("product",)
    product_skus: dict[str, str] = field(default_factory=dict)
    pose_hand_size: float = 0.12
    pose_min_keypoint_confidence: float = 0.3
    pose_wrists: tuple[int, ...] = ()
    backend: str = "ultralytics"
    mediapipe_model_complexity: int = 1
    mediapipe_max_hands: int = 4
    mediapipe_min_confidence: float = 0.5
    mediapipe_wrist_match: float = 1.0
    mediapipe_hand_reach: float = 0.25
    mediapipe_standin_scale: float = 3.0
    mediapipe_resting_hand: float = 0.5

    def __post_init__(self) -> None:
        for name in ("confidence", "shopper_confidence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"detector.{name} must be between 0 and 1, got {getattr(self, name)!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"detector.backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")


def _task_of(path: Path) -> str | None:
    """Exported models do not always say their task; ultralytics reads it from metadata when it can."""
    return None if path.suffix == ".pt" else "detect"


class Detector:
    """Wraps an ultralytics model. ``detect(frames)`` -> one Detections per frame."""

    def __init__(self, config: DetectorConfig):
        path = Path(config.model_path)
        self.model, self.names = load_detect_model(path, _task_of(path), "model file not found")
        self.config = config
        self.task = self.model.task
        size = max(self.names) + 1 if self.names else 0
        self.roles = np.full(size, ROLE_IGNORED, dtype=int)
        self.skus = np.full(size, "", dtype=object)
        for class_id, name in self.names.items():
            if name in config.shopper_classes:
                self.roles[class_id] = ROLE_SHOPPER
            elif name in config.hand_classes:
                self.roles[class_id] = ROLE_HAND
            elif name in config.product_skus:
                self.roles[class_id], self.skus[class_id] = ROLE_PRODUCT, config.product_skus[name]
            elif name.startswith(config.product_prefix):
                self.roles[class_id], self.skus[class_id] = ROLE_PRODUCT, name[len(config.product_prefix):]
            elif name in config.generic_product_classes:
                self.roles[class_id] = ROLE_PRODUCT
        if self.task != "pose" and not (self.roles == ROLE_SHOPPER).any():
            raise InputError(path, f"no shopper class among the model's classes {sorted(self.names.values())}; "
                                   "set detector.shopper_classes in the config")

    def detect(self, frames: list[np.ndarray]) -> list[sv.Detections]:
        """frames: BGR uint8 images (H, W, 3). Returns one Detections per frame, roles in data."""
        if not frames:
            return []
        # One pass at the lower threshold; NMS is per class, so the other classes keep exactly the boxes
        # they would get at their own threshold once the less confident ones are dropped. A pose model
        # has people only: they are shoppers.
        lowest = (self.config.shopper_confidence if self.task == "pose"
                  else min(self.config.confidence, self.config.shopper_confidence))
        if isinstance(self.model, OnnxDetect):
            tables = self.model.predict(frames, self.config.imgsz, lowest, self.config.iou)
            return [self._confident(self._with_roles(self._from_table(table))) for table in tables]
        results = self.model.predict(
            frames,
            imgsz=self.config.imgsz,
            conf=lowest,
            iou=self.config.iou,
            device=self.config.device,
            verbose=False,
        )
        return [self._confident(self._convert(result)) for result in results]

    def _confident(self, detections: sv.Detections) -> sv.Detections:
        """Shoppers at ``shopper_confidence`` or more, every other class at ``confidence`` or more (a pose
        model's people were predicted at ``shopper_confidence``, its wrists chosen by keypoint confidence)."""
        if self.task == "pose" or not len(detections):
            return detections
        threshold = np.where(detections.data["role"] == ROLE_SHOPPER, self.config.shopper_confidence,
                             self.config.confidence)
        return detections[detections.confidence >= threshold]

    def _from_table(self, table: np.ndarray) -> sv.Detections:
        """(K, 6) x1, y1, x2, y2, confidence, class -> Detections as ``from_ultralytics`` makes them."""
        class_id = table[:, 5].astype(int)
        return sv.Detections(xyxy=table[:, :4], confidence=table[:, 4], class_id=class_id,
                             data={"class_name": np.array([self.names[i] for i in class_id])})

    def _convert(self, result) -> sv.Detections:
        detections = self._with_roles(sv.Detections.from_ultralytics(result))
        return self._with_wrists(detections, result) if self.task == "pose" else detections

    def _with_roles(self, detections: sv.Detections) -> sv.Detections:
        """Each detection's role and sku from its class; ``person`` -1. Pose models: keep every row
        (``_with_wrists`` makes them shoppers), other models drop the ignored classes."""
        if len(detections):
            class_id = detections.class_id
            detections.data["role"] = self.roles[class_id]
            detections.data["sku"] = self.skus[class_id].astype(str)
        else:
            detections = empty_detections()
        detections.data["person"] = np.full(len(detections), -1, dtype=int)
        return detections if self.task == "pose" else detections[detections.data["role"] != ROLE_IGNORED]

    def _with_wrists(self, people: sv.Detections, result) -> sv.Detections:
        """Pose: every person is a shopper; each confident wrist becomes a hand owned by its person."""
        people.data["role"] = np.full(len(people), ROLE_SHOPPER, dtype=int)
        keypoints = result.keypoints
        if keypoints is None or not len(people):
            return people
        xy = keypoints.xy.cpu().numpy()  # (N, K, 2)
        conf = keypoints.conf.cpu().numpy() if keypoints.conf is not None else np.ones(xy.shape[:2])
        wrists = self.config.pose_wrists or WRISTS_BY_LAYOUT.get(xy.shape[1])
        if wrists is None or max(wrists) >= xy.shape[1]:
            raise InputError(self.config.model_path, f"pose model with {xy.shape[1]} keypoints: set detector.pose_wrists "
                                                     "to the indices of its wrists")
        boxes, owners, scores = [], [], []
        for person in range(len(people)):
            height = people.xyxy[person, 3] - people.xyxy[person, 1]
            half = max(4.0, self.config.pose_hand_size * height / 2)
            for wrist in wrists:
                if conf[person, wrist] >= self.config.pose_min_keypoint_confidence:
                    x, y = xy[person, wrist]
                    boxes.append([x - half, y - half, x + half, y + half])
                    owners.append(person)
                    scores.append(conf[person, wrist])
        if not boxes:
            return people
        people.data["sku"] = np.full(len(people), "", dtype=object).astype(str)
        # supervision merges only Detections with the same data keys: keep the pipeline's own.
        people.data = {key: people.data[key] for key in PIPELINE_KEYS}
        hands = sv.Detections(
            xyxy=np.asarray(boxes, dtype=float),
            confidence=np.asarray(scores, dtype=float),
            class_id=np.full(len(boxes), -1, dtype=int),
            data={
                "role": np.full(len(boxes), ROLE_HAND, dtype=int),
                "sku": np.full(len(boxes), "", dtype=object).astype(str),
                "person": np.asarray(owners, dtype=int),
            },
        )
        return sv.Detections.merge([people, hands])


def empty_detections() -> sv.Detections:
    """An empty Detections carrying the data keys the pipeline expects."""
    detections = sv.Detections.empty()
    detections.data["role"] = np.empty(0, dtype=int)
    detections.data["sku"] = np.empty(0, dtype=str)
    detections.data["person"] = np.empty(0, dtype=int)
    return detections
