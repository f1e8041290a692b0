"""The model switchboard of `walkout run`: which detector, hand model, held-item source and reach
classifier a run uses (from the config), loaded once for many recordings, and the runtime (PyTorch
or an ONNX export, vision.runtime) each model file is run with."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from vision.detector import Detector
from vision.embedding import DEFAULT_EMBEDDING, load_embedder
from vision.errors import InputError
from vision.hand_detector import HandDetector
from vision.products import HeldItemClassifier
from vision.reaching import ReachClassifier
from vision.runtime import RUNTIMES, onnx_threads, session_threads
from vision.runtime import resolve as resolve_runtime
from walkout.config import PipelineConfig

log = logging.getLogger(__name__)


class Models:
    """The detector (``[detector] backend``) and the held-item source (``[held] source``), loaded once
    for many recordings."""

    def __init__(self, config: PipelineConfig, threads: int | None = None):
        """``threads``: intra-op threads of every ONNX session of this set (None: vision.runtime.onnx_threads)."""
        self._config = config
        self._camera_sets: dict[int, list[Models]] = {}
        with session_threads(threads):
            self._load(with_runtime(config))

    def _load(self, config: PipelineConfig) -> None:
        # What runs the detector: "mediapipe", "onnx" (an ONNX export) or "torch"; written in run.json.
        self.runtime = ("mediapipe" if config.detector.backend == "mediapipe" else
                        "onnx" if config.detector.model_path.endswith(".onnx") else "torch")
        if config.detector.backend == "mediapipe":
            from vision.mediapipe_hands import MediaPipeDetector

            self.detector = MediaPipeDetector(config.detector)
        else:
            self.detector = Detector(config.detector)
        hand_model = Path(config.hand_detector.model_path) if config.hand_detector.model_path else None
        self.hand_detector = (
            HandDetector(config.hand_detector)
            if hand_model is not None and hand_model.exists() and config.detector.backend != "mediapipe"
            else None
        )
        source = config.held.source
        names_items = self.hand_detector is not None and self.hand_detector.names_held_items
        if source == "hand_model" and not names_items:
            raise InputError(config.hand_detector.model_path or "hand_detector.model_path",
                             "held.source = 'hand_model' needs a hand model with held_<sku> classes")
        path = Path(config.held.classifier_path) if config.held.classifier_path else None
        has_classifier = path is not None and path.exists()
        if source == "classifier" and not has_classifier:
            raise InputError(path or "held.classifier_path", "hand-crop classifier not found (held.source = 'classifier')")
        # auto: the classifier first (measured better on the mock store than item boxes, see models/README.md).
        self.held_items = source == "hand_model" or (source == "auto" and not has_classifier and names_items)
        wants_classifier = source == "classifier" or (source == "auto" and has_classifier)
        self.classifier = HeldItemClassifier(config.held) if wants_classifier else None
        self.held_from_reaches = source == "reach"
        self.reaching = ReachClassifier(config.reaching) if config.reaching.enabled else None
        # Learnt embeddings (vision.embedding, in memory only): the tracks' looks for the store join, or the
        # tracker's gate.
        wants_embedder = config.shoppers.model != "rules" and (
            config.tracking.uses_embeddings or (config.reid.enabled and config.shoppers.look == "embedding"))
        self.embedder = load_embedder(config.shoppers.look_model or DEFAULT_EMBEDDING) if wants_embedder else None
        if self.held_from_reaches:
            log.info("held items: 'reach' source (every completed shelf reach counts as one unnamed item)")
        elif self.held_items:
            log.info("held items: boxes of the hand model, each given to its nearest hand")
        elif self.classifier is None:
            log.info("no hand-crop classifier: held items come from the detector's product boxes")

    def camera_sets(self, count: int) -> list[Models]:
        """``count`` sets of the same models for ``count`` cameras processed at once, loaded on first use
        and kept for the next recordings. Each thread needs its own set (ultralytics' predictors and
        MediaPipe's landmark trackers keep per-call state), and each set's ONNX sessions get an equal
        share of this process's threads: on 2 cores, two detector sessions of one thread each, side by side,
        ran 1.16x the frames of two sessions of two threads each (over-subscribed cores)."""
        if count not in self._camera_sets:
            share = max(1, onnx_threads() // count)
            self._camera_sets[count] = [Models(self._config, threads=share) for _ in range(count)]
        return self._camera_sets[count]


def with_runtime(config: PipelineConfig) -> PipelineConfig:
    """``config`` with each model path replaced by the file ``config.runtime`` runs (vision.runtime: the
    .pt itself, or its ONNX export, made now when missing or stale)."""
    if config.runtime not in RUNTIMES:
        raise InputError("config", f"[pipeline] runtime must be one of {', '.join(RUNTIMES)}, got {config.runtime!r}")

    def resolve(section, key: str, imgsz: int):
        path = getattr(section, key)
        return replace(section, **{key: str(resolve_runtime(path, config.runtime, imgsz))}) if path else section

    detector = config.detector
    if detector.backend != "mediapipe":
        detector = resolve(detector, "model_path", detector.imgsz)
    return replace(config, detector=detector,
                   hand_detector=resolve(config.hand_detector, "model_path", config.hand_detector.imgsz),
                   held=resolve(config.held, "classifier_path", config.held.imgsz),
                   reaching=resolve(config.reaching, "model_path", config.reaching.imgsz))



def held_source(models: Models) -> str:
    """Which evidence of held products this run used (``HeldConfig.source`` with ``auto`` resolved)."""
    if models.held_from_reaches:
        return "reach"
    if models.held_items:
        return "hand_model"
    return "classifier" if models.classifier is not None else "boxes"

