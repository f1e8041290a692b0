"""Idle frames in `walkout run`: the detectors skip frames where nothing moved, the tracker carries on;
and the stage times of run.json add up to the camera's total.

A fake detector finds one bright square (a shopper) in each frame it is given. The video: the
shopper walks in, stands still for 5 s (longer than the tracker's 3 s lost-track buffer), walks on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv

from vision.detector import ROLE_SHOPPER, empty_detections
from walkout.config import PipelineConfig
from walkout.pipeline import process_camera
from walkout.recording import load_recording

from .walkout_fakes import make_recording

SIZE = (320, 180)
FPS = 10.0


def shopper_positions() -> list[int]:
    walk_in = [20 + 8 * i for i in range(10)]
    stand = [walk_in[-1]] * 50  # 5 s still
    walk_on = [walk_in[-1] + 8 * (i + 1) for i in range(10)]
    return walk_in + stand + walk_on


def write_shopper_video(path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for x in shopper_positions():
        frame = np.full((SIZE[1], SIZE[0], 3), 80, dtype=np.uint8)
        frame[60:120, x:x + 30] = 240
        writer.write(frame)
    writer.release()


class SquareDetector:
    """Finds the bright square; counts the frames it was run on."""

    def __init__(self):
        self.frames_seen = 0

    def detect(self, frames):
        self.frames_seen += len(frames)
        out = []
        for frame in frames:
            ys, xs = np.nonzero(frame[:, :, 1] > 200)
            if not len(xs):
                out.append(empty_detections())
                continue
            out.append(sv.Detections(
                xyxy=np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=float),
                confidence=np.array([0.9]), class_id=np.array([0]),
                data={"role": np.array([ROLE_SHOPPER]), "sku": np.array([""]), "person": np.array([-1])},
            ))
        return out


class SquareModels:
    def __init__(self):
        self.detector = SquareDetector()
        self.hand_detector = None
        self.classifier = None
        self.held_items = False
        self.held_from_reaches = False
        self.reaching = None
        self.embedder = None


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    root = make_recording(tmp_path / "rec")
    write_shopper_video(root / "videos" / "cam0.mp4")
    return root


class CountingHandModel:
    """A hand model that finds no hands; counts the frames it was run on."""

    def __init__(self):
        self.frames_seen = 0

    def add_hands(self, frames, found):
        self.frames_seen += len(frames)
        return found


def run(recording: Path, skip: bool, hand_model: CountingHandModel | None = None):
    config = PipelineConfig()
    config = dataclasses.replace(config, motion=dataclasses.replace(config.motion, enabled=skip))
    loaded = load_recording(recording)
    models = SquareModels()
    models.hand_detector = hand_model
    result = process_camera(loaded, loaded.cameras[0], models, config, {})
    return result, models.detector.frames_seen


def test_skipping_keeps_the_track_id_through_an_idle_stretch(recording):
    result, detected = run(recording, skip=True)
    frames = len(shopper_positions())
    assert result.frames == frames
    # The detector ran on the moving frames only (and on the first one of the stand).
    assert result.skipped >= 45 and detected == frames - result.skipped
    assert result.timing["skipped"] == result.skipped
    tracks = result.tracks
    assert set(tracks["track_id"]) == {1}  # one shopper, one id, through 5 s without a detector call
    # Confirmed from the video's second frame on, and a row for every frame after, the idle ones included.
    assert tracks["frame"].tolist() == list(range(1, frames))


def test_skipping_gives_the_tracks_of_running_the_detector_on_every_frame(recording):
    skipped, _ = run(recording, skip=True)
    full, detected = run(recording, skip=False)
    assert full.skipped == 0 and detected == full.frames
    a, b = skipped.tracks, full.tracks
    assert a["frame"].tolist() == b["frame"].tolist() and a["track_id"].tolist() == b["track_id"].tolist()
    boxes = ["x1", "y1", "x2", "y2"]
    assert np.abs(a[boxes].to_numpy() - b[boxes].to_numpy()).max() < 2.0  # pixels


def test_the_stage_times_add_up_to_the_total_and_name_only_the_stages_that_ran(recording):
    result, _ = run(recording, skip=True)
    stages = result.timing["stages_s"]
    # No held-item classifier and no reach model here: no "classify" or "reaching" time.
    assert set(stages) == {"decode", "motion", "detect", "track", "reid", "hands", "events"}
    assert sum(stages.values()) == pytest.approx(result.timing["total_s"], rel=0.01)


def test_the_hand_model_has_its_own_stage_time_and_runs_on_the_frames_the_detector_ran_on(recording):
    hand_model = CountingHandModel()
    result, detected = run(recording, skip=True, hand_model=hand_model)
    stages = result.timing["stages_s"]
    assert set(stages) == {"decode", "motion", "detect", "hand_model", "track", "reid", "hands", "events"}
    assert stages["hand_model"] >= 0 and hand_model.frames_seen == detected < result.frames
    assert sum(stages.values()) == pytest.approx(result.timing["total_s"], rel=0.01)
