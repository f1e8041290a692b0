"""Stand-ins for the trained models, for tests of the run loop that must not need trained weights.

They live in a module (not in a test file) so that worker processes and Ray actors can import them
by name (``tests.walkout.walkout_fakes``: the project root must be on the workers' path; pytest puts
it on ``sys.path`` and spawned workers inherit it, Ray workers get it through ``PYTHONPATH``).

``FakeModels`` is a ``Models`` whose detector sees nothing: the real pipeline runs end to end
(decoding, tracking, zones, events, writers) on real videos and writes empty tables. The
``WALKOUT_FAKE_DELAY_S`` environment variable (seconds per frame) slows it down, so a test can kill
a process in the middle of a recording; with ``WALKOUT_FAKE_BUSY_DIR`` set, a detector writes a
file named by its process id there when it starts on a video, so a test knows which process to kill.
Environment variables reach worker processes and subprocesses.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

from vision.detector import empty_detections

DELAY_ENV = "WALKOUT_FAKE_DELAY_S"
BUSY_ENV = "WALKOUT_FAKE_BUSY_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class FakeDetector:
    def __init__(self, delay_s: float):
        self.delay_s = delay_s

    def detect(self, frames: list[np.ndarray]):
        if os.environ.get(BUSY_ENV):
            (Path(os.environ[BUSY_ENV]) / str(os.getpid())).touch()
        time.sleep(self.delay_s * len(frames))
        return [empty_detections() for _ in frames]


class FakeModels:
    """Models-like: a detector that finds nothing; no hand-crop classifier, no separate hand model."""

    def __init__(self, config):
        self.detector = FakeDetector(float(os.environ.get(DELAY_ENV, "0")))
        self.classifier = None
        self.hand_detector = None
        self.held_from_reaches = False
        self.held_items = False
        self.reaching = None
        self.embedder = None


class BrokenModels:
    """Models-like that cannot load, as with a corrupt weights file."""

    def __init__(self, config):
        raise ValueError("fake.pt: not a model ultralytics can load")


OUTPUTS = ("events.csv", "hands.csv", "reaches.csv", "run.json", "shoppers.csv", "timeline.json", "tracks.csv")


def write_video(path: Path, frames: int = 12, size: tuple[int, int] = (64, 48), fps: float = 10.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (15 * i) % 255, dtype=np.uint8))
    writer.release()
    return path


def make_recording(root: Path, frames: int = 12) -> Path:
    """A tiny recording: one 64x48 camera with one shelf zone, catalog and planogram."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "store.json").write_text(json.dumps({
        "version": 1,
        "name": root.name,
        "cameras": [{
            "id": "cam0",
            "video": "videos/cam0.mp4",
            "start_timestamp": 1700000000.0,
            "zones": [{"shelf": "A1", "plates": [1], "polygon": [[1, 1], [30, 1], [30, 20], [1, 20]]}],
        }],
    }))
    (root / "catalog.csv").write_text("sku,name,weight_g\n0001,Tea,250\n")
    (root / "planogram.csv").write_text("shelf,plate,sku\nA1,1,0001\n")
    write_video(root / "videos" / "cam0.mp4", frames)
    return root


def fake_model_file(folder: Path) -> Path:
    """A file standing for the detector weights (its content is fingerprinted, never loaded)."""
    path = folder / "fake-det.pt"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"fake detector weights v1")
    return path


def fake_config(folder: Path):
    """The default run config with the fake detector weights of ``folder`` (fake_model_file)."""
    import dataclasses

    from walkout.config import PipelineConfig

    base = PipelineConfig()
    return dataclasses.replace(base, detector=dataclasses.replace(base.detector, model_path=str(fake_model_file(folder))))
