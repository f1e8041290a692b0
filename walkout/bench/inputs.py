"""What the benchmark reads besides events.csv: camera clocks (store.json) and MOTChallenge tracks.

Kept minimal and local so the benchmark does not depend on the full recording loader: it needs only
each camera's id, ``start_timestamp`` (Unix s) and frame rate (frames/s).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from formats.errors import FormatError
from formats.store import frame_rate, parse_store, run_frame_rates

log = logging.getLogger(__name__)

MOT_COLUMNS = ("frame", "id", "x", "y", "w", "h", "conf")


@dataclass(frozen=True)
class CameraClock:
    """Frame ``i`` (0-based) of a camera is at ``start_timestamp + i / fps`` (Unix s, frames/s)."""

    camera: str
    start_timestamp: float
    fps: float | None

    def locate(self, timestamp: float) -> tuple[int | None, float]:
        """Unix seconds -> (0-based frame index or None if fps unknown, seconds from video start)."""
        video_s = float(timestamp) - self.start_timestamp
        frame = None if self.fps is None else int(math.floor(video_s * self.fps + 1e-6))
        return frame, video_s


def read_json(path: Path) -> dict:
    """Read a JSON object, raising :class:`FormatError` naming the file on any problem."""
    if not path.is_file():
        raise FormatError(path, "file not found")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise FormatError(path, "expected a JSON object at the top level")
    return payload


def _video_fps(path: Path) -> float | None:
    """Frame rate of a video file via OpenCV, or None when it cannot be read."""
    if not path.is_file():
        return None
    import cv2  # lazy: only needed when neither store.json nor run.json states the rate

    capture = cv2.VideoCapture(str(path))
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS)) if capture.isOpened() else 0.0
    finally:
        capture.release()
    return fps if fps > 0 else None


def read_camera_clocks(recording: Path, run_info: dict | None = None) -> dict[str, CameraClock]:
    """store.json -> {camera id: CameraClock}.

    The frame rate follows ``formats.store.frame_rate``: run.json, else the video file (OpenCV), else
    store.json's ``fps``; otherwise it is unknown (None) and the confusion list gives video seconds
    without frame numbers.
    """
    store = parse_store(recording / "store.json", recording)
    run_rates = run_frame_rates(run_info)
    return {camera.id: CameraClock(camera.id, camera.start_timestamp, frame_rate(camera, run_rates, _video_fps))
            for camera in store.cameras}


def read_mot(path: Path) -> pd.DataFrame:
    """MOTChallenge ``frame,id,x,y,w,h,conf,...`` -> DataFrame[frame:int, id:int, x, y, w, h, conf,
    visibility] (``visibility``: MOT17 ground truth's 9th column, NaN when the file has none).

    Frames are 1-based, boxes are pixels ``x,y,w,h`` (top-left, size). Extra columns are ignored.
    An empty file is valid (nobody visible). Rows of ground truth with ``conf == 0`` are the
    MOTChallenge "ignore" marker; the caller decides what to do with them.
    """
    if not path.is_file():
        raise FormatError(path, "file not found")
    if path.stat().st_size == 0:
        return pd.DataFrame({c: np.array([], dtype=float) for c in (*MOT_COLUMNS, "visibility")}).astype(
            {"frame": int, "id": int}
        )
    try:
        raw = pd.read_csv(path, header=None, sep=r"[,\s]+", engine="python", dtype=str)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"not a readable MOTChallenge file: {exc}") from None
    if raw.shape[1] < 6:
        raise FormatError(
            path, f"expected at least 6 columns (frame,id,x,y,w,h), found {raw.shape[1]}", line=1
        )
    if raw.shape[1] < 7:
        raw[6] = "1"
    frame = raw.iloc[:, :7].copy()
    frame.columns = list(MOT_COLUMNS)
    numbers = frame.apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna().any(axis=1).to_numpy()
    if bad.any():
        line = int(np.flatnonzero(bad)[0]) + 1
        column = MOT_COLUMNS[int(np.flatnonzero(numbers.iloc[line - 1].isna().to_numpy())[0])]
        raise FormatError(path, f"{frame.iloc[line - 1][column]!r} is not a number", line=line, field=column)
    if (numbers["frame"] < 1).any():
        line = int(np.flatnonzero((numbers["frame"] < 1).to_numpy())[0]) + 1
        raise FormatError(path, "frame numbers are 1-based (found < 1)", line=line, field="frame")
    numbers["frame"] = numbers["frame"].astype(int)
    numbers["id"] = numbers["id"].astype(int)
    numbers["visibility"] = _visibility(raw)
    return numbers


def _visibility(raw: pd.DataFrame) -> np.ndarray:
    """MOT17 ground truth's 9th column, the visibility ratio (0-1); NaN where it is absent or not a
    ratio (MOTChallenge detections and predictions put -1 there: the x, y, z of the 2D format)."""
    if raw.shape[1] < 9:
        return np.full(len(raw), np.nan)
    values = pd.to_numeric(raw.iloc[:, 8], errors="coerce").to_numpy(dtype=float)
    return np.where((values >= 0) & (values <= 1), values, np.nan)

