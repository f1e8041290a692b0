"""Speed baselines measured in the same process as the pipeline, on the same video and weights.

- ``decode_only``: read every frame and do nothing else (the ceiling any pipeline runs under);
- ``ultralytics_track``: ultralytics' own ``model.track()`` loop with its ByteTrack (the naive route
  a user tries first). It gives tracks only: no hands, zones or events. ultralytics runs torch on
  cores - 1 threads; ``threads`` sets another count (the speed benchmark's every-core reference row).

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


def ultralytics_track(video: Path, model_path: str, imgsz: int, confidence: float,
                      threads: int | None = None) -> dict:
    """``threads``: torch's threads after the first frame (ultralytics sets them to cores - 1 when its
    predictor starts: 1 on a 2-core machine); None keeps ultralytics' choice, as a user gets it. torch's
    threads are restored at the end."""
    import torch
    from ultralytics import YOLO

    capture = cv2.VideoCapture(str(video))
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or 1.0
    capture.release()
    model = YOLO(model_path)
    threads_before = torch.get_num_threads()
    frames = 0
    started, cpu = time.perf_counter(), time.process_time()
    for _ in model.track(source=str(video), stream=True, tracker="bytetrack.yaml", imgsz=imgsz, conf=confidence,
                         device="cpu", verbose=False, persist=False):
        frames += 1
        if frames == 1 and threads is not None:
            torch.set_num_threads(threads)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    torch.set_num_threads(threads_before)  # what runs next in this process keeps its threads
    return {"frames": frames, "video_s": frames / fps, "total_s": total, "cpu_s": cpu}
