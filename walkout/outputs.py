"""The files `walkout run` writes for one recording (docs/FORMAT.md, "Run outputs"): tracks/<camera>.txt
(MOTChallenge), tracks.csv, hands.csv, reaches.csv, shoppers.csv, events.csv, timeline.json and
run.json. Every file is written to a temporary name and renamed into place (formats.tables)."""

from __future__ import annotations

import platform
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from formats.tables import write_csv_atomic, write_events
from vision.events import PickEvent
from vision.shoppers import ShopperMap
from walkout.config import PipelineConfig
from walkout.models import Models, held_source
from walkout.recording import Recording
from walkout.stages import CameraResult

RUN_VERSION = 1


def write_mot(tracks: pd.DataFrame, path: Path) -> Path:
    """MOTChallenge: frame (1-based), id, x, y, w, h, conf, -1, -1, -1."""
    mot = pd.DataFrame({
        "frame": tracks["frame"] + 1,
        "id": tracks["track_id"],
        "x": tracks["x1"].round(2),
        "y": tracks["y1"].round(2),
        "w": (tracks["x2"] - tracks["x1"]).round(2),
        "h": (tracks["y2"] - tracks["y1"]).round(2),
        "conf": tracks["confidence"].round(3),
        "a": -1, "b": -1, "c": -1,
    })
    return write_csv_atomic(mot, path, header=False)


def versions() -> dict:
    """Versions of what made a run. ultralytics' from its installed metadata: importing it (and torch with
    it) costs seconds, and a run on exported models never needs it."""
    from importlib.metadata import PackageNotFoundError, version

    import supervision

    from walkout import __version__

    try:
        ultralytics = version("ultralytics")
    except PackageNotFoundError:
        ultralytics = None
    return {
        "walkout": __version__,
        "python": platform.python_version(),
        "ultralytics": ultralytics,
        "supervision": supervision.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
    }



def write_tables(out: Path, results: list[CameraResult], shopper_map: ShopperMap, shoppers: pd.DataFrame,
                 events: list[PickEvent]) -> None:
    """A recording's tables: tracks/<camera>.txt, tracks.csv, hands.csv, reaches.csv, shoppers.csv and
    events.csv (each camera's track ids mapped to store-level shoppers by ``shopper_map``)."""
    for result in results:
        write_mot(result.tracks, out / "tracks" / f"{result.camera}.txt")
    tracks = pd.concat([r.tracks.assign(camera=r.camera, shopper=[shopper_map.shopper(r.camera, t) for t in
                                                                   r.tracks["track_id"].to_numpy(int)])
                        for r in results], ignore_index=True)
    hands = pd.concat([r.hands.assign(camera=r.camera) for r in results], ignore_index=True)
    reaches = pd.concat([r.reaches.assign(shopper=[shopper_map.shopper(r.camera, int(s)) for s in r.reaches["shopper"]])
                         for r in results], ignore_index=True)
    write_csv_atomic(tracks, out / "tracks.csv", float_format="%.2f")
    write_csv_atomic(hands, out / "hands.csv", float_format="%.3f")
    write_csv_atomic(reaches, out / "reaches.csv")
    write_csv_atomic(shoppers, out / "shoppers.csv", float_format="%.3f")
    events_frame = pd.DataFrame([e.to_dict() for e in events]).drop(columns=["version"], errors="ignore")
    if events_frame.empty:
        events_frame = pd.DataFrame(columns=["timestamp", "shopper", "action", "sku", "quantity", "shelf", "plates",
                                             "camera", "frame", "confidence"])
    write_events(events_frame, out / "events.csv", predicted=True)


def run_info(recording: Recording, models: Models, config: PipelineConfig, results: list[CameraResult],
             shopper_map: ShopperMap, association_s: float, baselines: dict, camera_threads: int = 1,
             cameras_s: float = 0.0) -> dict:
    """run.json: versions, models, config, timings per camera and stage, how the cameras ran
    (``camera_threads`` at once, ``cameras_s`` wall seconds for all of them), how identities were made."""
    return {
        "version": RUN_VERSION,
        "recording": str(recording.path),
        "name": recording.name,
        "model": config.detector.model_path,
        "hand_model": config.hand_detector.model_path if models.hand_detector is not None else None,
        "classifier": config.held.classifier_path if models.classifier is not None else None,
        "reach_model": config.reaching.model_path if models.reaching is not None else None,
        "held_source": held_source(models),
        "runtime": getattr(models, "runtime", None),
        "config": config.to_dict(),
        "versions": versions(),
        "timings": {r.camera: r.timing for r in results},
        "cameras_run": {"threads": camera_threads, "wall_s": round(cameras_s, 3)},
        "cameras": {r.camera: {"frames": r.frames, "fps": r.fps, "skipped_frames": r.skipped, "id_repairs": r.id_repairs}
                    for r in results},
        "shoppers": {**shopper_map.to_dict(), "association_s": round(association_s, 4)},
        "baselines": baselines,
    }
