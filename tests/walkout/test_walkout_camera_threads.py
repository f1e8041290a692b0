"""Cameras of one recording processed at once (`[pipeline] camera_threads`): each thread gets its own set
of the models (with its share of the ONNX threads), the outputs are those of the cameras one after
another, run.json says how it ran.

A fake detector finds one bright square (a shopper) per frame; three cameras see it in different places.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision import runtime
from walkout.config import PipelineConfig
from walkout.pipeline import camera_threads, process_recording

from .test_walkout_idle_frames import SquareModels
from .walkout_fakes import OUTPUTS, make_recording

SIZE = (160, 90)
CAMERAS = ("cam0", "cam1", "cam2")


class CopyableSquareModels(SquareModels):
    """SquareModels with sets for cameras run at once, as walkout.models.Models; records the threads that
    used each set."""

    def __init__(self):
        super().__init__()
        self.threads: set[str] = set()
        self.made: dict[int, list[CopyableSquareModels]] = {}
        detect = self.detector.detect

        def detect_and_note(frames):
            self.threads.add(threading.current_thread().name)
            return detect(frames)

        self.detector.detect = detect_and_note

    def camera_sets(self, count: int) -> list[CopyableSquareModels]:
        if count not in self.made:
            self.made[count] = [CopyableSquareModels() for _ in range(count)]
        return self.made[count]


def write_square_video(path: Path, start_x: int, frames: int = 30) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, SIZE)
    for i in range(frames):
        frame = np.full((SIZE[1], SIZE[0], 3), 80, dtype=np.uint8)
        x = start_x + 3 * i
        frame[20:60, x:x + 16] = 240
        writer.write(frame)
    writer.release()


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    root = make_recording(tmp_path / "three cams")
    store = json.loads((root / "store.json").read_text())
    store["cameras"] = [{**store["cameras"][0], "id": camera, "video": f"videos/{camera}.mp4"} for camera in CAMERAS]
    (root / "store.json").write_text(json.dumps(store))
    for index, camera in enumerate(CAMERAS):
        write_square_video(root / "videos" / f"{camera}.mp4", start_x=5 + 20 * index)
    return root


def run(recording: Path, out: Path, threads: int, models=None):
    config = dataclasses.replace(PipelineConfig(), camera_threads=threads)
    models = models or CopyableSquareModels()
    result = process_recording(recording, out, models, config)
    return result, models


def test_cameras_at_once_give_the_outputs_of_cameras_one_after_another(recording, tmp_path):
    one, _ = run(recording, tmp_path / "one", threads=1)
    two, models = run(recording, tmp_path / "two", threads=2)
    for name in OUTPUTS:
        if name != "run.json":
            assert (one.out_dir / name).read_bytes() == (two.out_dir / name).read_bytes(), name
    assert [c.camera for c in two.cameras] == list(CAMERAS)  # the recording's camera order
    assert set(two.cameras[0].tracks["track_id"]) == {1}  # the fake detector's shopper was tracked
    run_json = json.loads((two.out_dir / "run.json").read_text())
    assert run_json["cameras_run"]["threads"] == 2 and run_json["cameras_run"]["wall_s"] > 0
    assert json.loads((one.out_dir / "run.json").read_text())["cameras_run"]["threads"] == 1


def test_each_thread_gets_its_own_set_of_the_models_made_once(recording, tmp_path):
    _, models = run(recording, tmp_path / "a", threads=2)
    assert list(models.made) == [2]  # two sets, one per thread
    used = [m for m in models.made[2] if m.threads]
    assert used and all(len(m.threads) == 1 for m in used)  # no set is shared by two threads
    assert not models.threads  # the run's own set (one-camera recordings) is not among them
    first = list(models.made[2])
    run(recording, tmp_path / "b", threads=2, models=models)
    assert models.made[2] == first  # kept for the next recording


def test_each_camera_set_gets_its_share_of_the_onnx_threads(monkeypatch):
    from walkout.models import Models

    made = []
    monkeypatch.setattr(Models, "_load", lambda self, config: made.append(runtime.onnx_threads()))
    monkeypatch.setenv("WALKOUT_THREADS", "4")
    models = Models(PipelineConfig())
    assert models.camera_sets(2) == models.camera_sets(2)  # made once
    assert made == [4, 2, 2]  # the run's own set: every thread; each of two sets: half
    assert runtime.onnx_threads() == 4  # only the sets' sessions are limited
    Models(PipelineConfig()).camera_sets(6)
    assert made[-6:] == [1] * 6


def test_how_many_cameras_run_at_once(monkeypatch):
    models = CopyableSquareModels()
    config = PipelineConfig()
    monkeypatch.setenv("WALKOUT_THREADS", "2")  # a worker's share of the cores, or every core
    assert camera_threads(config, 6, models) == 2
    assert camera_threads(config, 1, models) == 1
    monkeypatch.setenv("WALKOUT_THREADS", "1")  # one of two workers on two cores
    assert camera_threads(config, 6, models) == 1
    assert camera_threads(dataclasses.replace(config, camera_threads=3), 6, models) == 3
    assert camera_threads(config, 6, SquareModels()) == 1  # models that cannot be copied


def test_a_negative_camera_thread_count_is_refused(tmp_path):
    from formats.errors import FormatError
    from walkout.config import load_config

    path = tmp_path / "run.toml"
    path.write_text("[pipeline]\ncamera_threads = -1\n")
    with pytest.raises(FormatError, match="camera_threads must be 0"):
        load_config(path)
