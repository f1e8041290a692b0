"""`walkout export`: the run's .pt models exported for ONNX Runtime, cached beside each .pt (vision.runtime),
and a check that the exports give the .pt models' results on a video (boxes, classes, top-1 labels).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.errors import InputError
from vision.hand_detector import shopper_crops
from vision.products import hand_crops
from vision.runtime import EXTRA, export_onnx, export_path, is_current, missing_packages, quiet_ultralytics
from walkout.config import PipelineConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelFile:
    """One model of the run: its role, .pt file, input size and ultralytics task."""

    role: str
    path: Path
    imgsz: int
    task: str


@dataclass(frozen=True)
class Exported:
    """What ``export_models`` did with one model: ``status`` is exported (none before), re-exported
    (the export was stale) or current (kept)."""

    model: ModelFile
    exported: Path
    status: str
    seconds: float


@dataclass(frozen=True)
class Agreement:
    """PyTorch vs ONNX Runtime on the same images. Detection: boxes (PyTorch's), images whose box
    counts differ, the largest corner difference of matched boxes (px), class differences.
    Classification: ``class_mismatches`` counts images whose top-1 class differs; ``max_score_diff``
    the largest difference of the top-1 probability."""

    role: str
    images: int
    boxes: int = 0
    count_mismatches: int = 0
    max_box_diff_px: float = 0.0
    class_mismatches: int = 0
    max_score_diff: float = 0.0

    @property
    def equal(self) -> bool:
        return self.count_mismatches == 0 and self.class_mismatches == 0 and self.max_box_diff_px < 0.5


def model_files(config: PipelineConfig) -> list[ModelFile]:
    """The .pt models ``config`` runs (the MediaPipe backend has no detector file)."""
    files = []
    if config.detector.backend != "mediapipe":
        files.append(ModelFile("detector", Path(config.detector.model_path), config.detector.imgsz, "detect"))
    files += [
        ModelFile("hand model", Path(config.hand_detector.model_path), config.hand_detector.imgsz, "detect"),
        ModelFile("held-item classifier", Path(config.held.classifier_path), config.held.imgsz, "classify"),
        ModelFile("reach classifier", Path(config.reaching.model_path), config.reaching.imgsz, "classify"),
    ]
    return [f for f in files if str(f.path) not in ("", ".") and f.path.suffix == ".pt" and f.path.is_file()]


def require_packages() -> None:
    missing = missing_packages()
    if missing:
        raise InputError("onnx", f"{' and '.join(missing)} not installed: pip install 'walkout[{EXTRA}]'")


def export_models(config: PipelineConfig, force: bool = False) -> list[Exported]:
    """Export every .pt model of ``config`` whose export is missing or stale (all of them with ``force``)."""
    require_packages()
    done = []
    for model in model_files(config):
        target = export_path(model.path)
        existed = target.is_file()
        if existed and not force and is_current(target, model.path):
            done.append(Exported(model, target, "current", 0.0))
            continue
        started = time.perf_counter()
        export_onnx(model.path, model.imgsz)
        done.append(Exported(model, target, "re-exported" if existed else "exported", time.perf_counter() - started))
    return done


def read_video(video: Path, count: int) -> list[np.ndarray]:
    """Up to ``count`` frames spread over the whole video."""
    capture = cv2.VideoCapture(str(video))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or count
    wanted = set(np.linspace(0, max(total - 1, 0), count).round().astype(int).tolist())
    frames, index = [], 0
    while len(frames) < len(wanted):
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames.append(frame)
        index += 1
    capture.release()
    if not frames:
        raise InputError(video, "no frames could be read")
    return frames


def compare(role: str, task: str, torch_model, onnx_model, images: list[np.ndarray], **predict) -> Agreement:
    """Run both models on ``images`` (in batches of 8) and compare their results."""
    if not images:
        return Agreement(role, 0)
    a, b = [], []
    for start in range(0, len(images), 8):
        batch = images[start:start + 8]
        a += torch_model.predict(batch, device="cpu", verbose=False, **predict)
        with quiet_ultralytics():
            b += onnx_model.predict(batch, device="cpu", verbose=False, **predict)
    if task == "classify":
        top = [(int(x.probs.top1), int(y.probs.top1)) for x, y in zip(a, b, strict=True)]
        scores = [abs(float(x.probs.top1conf) - float(y.probs.data[x.probs.top1])) for x, y in zip(a, b, strict=True)]
        return Agreement(role, len(images), class_mismatches=sum(x != y for x, y in top),
                         max_score_diff=max(scores))
    boxes = counts = classes = 0
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        boxes += len(x.boxes)
        if len(x.boxes) != len(y.boxes):
            counts += 1
            continue
        if not len(x.boxes):
            continue
        bx, by = x.boxes.xyxy.cpu().numpy(), y.boxes.xyxy.cpu().numpy()
        ox, oy = np.lexsort(bx.T), np.lexsort(by.T)  # the same boxes in the same order
        worst = max(worst, float(np.abs(bx[ox] - by[oy]).max()))
        classes += int((x.boxes.cls.cpu().numpy()[ox] != y.boxes.cls.cpu().numpy()[oy]).sum())
    return Agreement(role, len(images), boxes, counts, worst, classes)


def check_exports(config: PipelineConfig, video: Path, frames: int = 48) -> list[Agreement]:
    """Each export against its .pt on ``video``: the detector on whole frames, the hand model and the reach
    classifier on crops around the detector's shoppers, the held-item classifier on crops around the
    hand model's hands (as the pipeline feeds them)."""
    from ultralytics import YOLO

    require_packages()
    images = read_video(video, frames)
    out = []
    shoppers = hands = None
    for model in model_files(config):
        exported = export_path(model.path)
        if not is_current(exported, model.path):
            raise InputError(exported, "missing or stale: run `walkout export` first")
        with quiet_ultralytics():
            torch_model, onnx_model = YOLO(str(model.path)), YOLO(str(exported), task=model.task)
        if model.role == "detector":
            out.append(compare(model.role, model.task, torch_model, onnx_model, images, imgsz=model.imgsz,
                               conf=config.detector.confidence, iou=config.detector.iou))
            found = torch_model.predict(images, imgsz=model.imgsz, conf=config.detector.confidence,
                                        device="cpu", verbose=False)
            names = torch_model.names
            shoppers = [r.boxes.xyxy.cpu().numpy()[[names[int(c)] in config.detector.shopper_classes
                                                     for c in r.boxes.cls]] for r in found]
            continue
        if shoppers is None:
            continue  # no detector (MediaPipe): nothing to crop around
        crops, _ = shopper_crops(images, shoppers, config.hand_detector.margin)
        if model.role == "hand model":
            out.append(compare(model.role, model.task, torch_model, onnx_model, crops, imgsz=model.imgsz,
                               conf=config.hand_detector.confidence, iou=config.hand_detector.iou))
            found = torch_model.predict(crops, imgsz=model.imgsz, conf=config.hand_detector.confidence,
                                        device="cpu", verbose=False) if crops else []
            hands = [c for crop, r in zip(crops, found, strict=True)
                     for c in hand_crops(crop, r.boxes.xyxy.cpu().numpy(), config.held.crop_scale,
                                         config.held.crop_min_px, config.held.imgsz)]
        elif model.role == "reach classifier":
            out.append(compare(model.role, model.task, torch_model, onnx_model, crops, imgsz=model.imgsz))
        elif hands:
            out.append(compare(model.role, model.task, torch_model, onnx_model, hands, imgsz=model.imgsz))
    return out
