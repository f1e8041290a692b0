"""Speed baselines measured in the same process as the pipeline, on the same video and weights.

- ``decode_only``: read every frame and do nothing else (the ceiling any pipeline runs under);
- ``ultralytics_track``: ultralytics' own ``model.track()`` loop with its ByteTrack (the naive route
  a user tries first). It gives tracks only: no hands, zones or events.

Each returns the ``run.json`` timing record: ``{"frames", "video_s", "total_s"}``, and ``cpu_s``, the
process's CPU seconds over the same span (steadier than wall time on a machine other work shares).
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2


def decode_only(video: Path) -> dict:
    capture = cv2.VideoCapture(str(video))
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or 1.0
    frames = 0
    started, cpu = time.perf_counter(), time.process_time()
    while True:
        ok, _ = capture.read()
        if not ok:
            break
        frames += 1
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    capture.release()
    return {"frames": frames, "video_s": frames / fps, "total_s": total, "cpu_s": cpu}


def ultralytics_track(video: Path, model_path: str, imgsz: int, confidence: float) -> dict:
    from ultralytics import YOLO

    capture = cv2.VideoCapture(str(video))
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or 1.0
    capture.release()
    model = YOLO(model_path)
    frames = 0
    started, cpu = time.perf_counter(), time.process_time()
    for _ in model.track(source=str(video), stream=True, tracker="bytetrack.yaml", imgsz=imgsz, conf=confidence,
                         device="cpu", verbose=False, persist=False):
        frames += 1
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"frames": frames, "video_s": frames / fps, "total_s": total, "cpu_s": cpu}
