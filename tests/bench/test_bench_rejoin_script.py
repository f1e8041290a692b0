"""benchmarks/rejoin.py: a recording's cameras are run once and kept; joining the kept results again
writes what the first run wrote, without running a camera; a cache that is missing or of another
version is named."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.walkout.walkout_fakes import FakeModels, make_recording
from walkout.config import load_config
from walkout.pipeline import CameraResult, process_recording

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import rejoin  # noqa: E402  (benchmarks/ is not a package)

COMPARED = ("events.csv", "hands.csv", "reaches.csv", "shoppers.csv", "timeline.json", "tracks.csv")


class NoCameras(FakeModels):
    """Models whose detector must not run: a replay joins kept results only."""

    def __init__(self, config):
        super().__init__(config)
        self.detector = self

    def detect(self, frames):
        raise AssertionError("a replay ran the detector")


def test_a_replay_of_kept_cameras_writes_what_the_run_wrote_without_running_them(tmp_path):
    recording = make_recording(tmp_path / "seed0001")
    config = load_config()
    cache = tmp_path / "cache"
    first = process_recording(recording, tmp_path / "run", FakeModels(config), config,
                              keep_cameras=lambda path, results: rejoin.keep_cameras(cache, path, results))
    assert (cache / "seed0001.pkl").is_file()
    kept = rejoin.kept_cameras(cache, recording)
    assert [r.camera for r in kept] == ["cam0"]

    again = rejoin.replay(cache, recording, tmp_path / "again", NoCameras(config), config)
    for name in COMPARED:
        assert (again.out_dir / name).read_bytes() == (first.out_dir / name).read_bytes(), name


def test_a_missing_or_foreign_cache_is_named(tmp_path):
    recording = make_recording(tmp_path / "seed0002")
    with pytest.raises(SystemExit, match=r"seed0002\.pkl.*record"):
        rejoin.kept_cameras(tmp_path / "cache", recording)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "seed0002.pkl").write_bytes(pickle.dumps({"version": 0, "cameras": []}))
    with pytest.raises(SystemExit, match="version"):
        rejoin.kept_cameras(tmp_path / "cache", recording)


def test_a_cache_kept_before_box_colours_were_kept_reads_with_none(tmp_path):
    recording = make_recording(tmp_path / "seed0003")
    result = CameraResult("cam0", [], pd.DataFrame(), pd.DataFrame(), 0, 10.0, {})
    del result.__dict__["descriptors"]  # what an older CameraResult pickled
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "seed0003.pkl").write_bytes(
        pickle.dumps({"version": rejoin.CACHE_VERSION, "recording": str(recording), "cameras": [result]}))
    assert rejoin.kept_cameras(tmp_path / "cache", recording)[0].descriptors is None


def test_looks_made_again_from_the_videos_are_the_looks_the_run_made(tmp_path):
    """``join --relook`` with the run's own kind of look reproduces each kept track's look from the video."""
    import numpy as np

    from tests.walkout.privacy_fixture import render_tiny, truth_models

    recording = render_tiny(tmp_path)  # two shoppers, detected from the render's truth boxes
    config = load_config()
    cache = tmp_path / "cache"
    process_recording(recording, tmp_path / "run", truth_models(recording)(config), config,
                      keep_cameras=lambda path, results: rejoin.keep_cameras(cache, path, results))
    kept = rejoin.kept_cameras(cache, recording)
    again = rejoin.relooked(recording, kept, config)
    assert kept[0].looks and set(again[0].looks) == set(kept[0].looks)
    for track, look in kept[0].looks.items():
        assert np.allclose(again[0].looks[track], look, atol=1e-6)
