"""Resumable, atomic runs: the manifest says what is complete, re-runs skip it, kills lose nothing.

These tests run the real pipeline with a detector that sees nothing (walkout_fakes.FakeModels), so
they need no trained weights; the last test uses the shipped model and is skipped without it.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from walkout import batch
from walkout.config import DEFAULT_DETECTOR, PipelineConfig
from walkout.manifest import MANIFEST_NAME, HashConfig, fingerprint_file
from walkout.pipeline import RunError, RunOptions, process_recording, run_batch

from .walkout_fakes import DELAY_ENV, OUTPUTS, PROJECT_ROOT, FakeModels, fake_model_file, make_recording


@pytest.fixture
def config(tmp_path: Path) -> PipelineConfig:
    base = PipelineConfig()
    return dataclasses.replace(base, detector=dataclasses.replace(base.detector, model_path=str(fake_model_file(tmp_path))))


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    folder = tmp_path / "recordings"
    for name in ("r1", "r2", "r3"):
        make_recording(folder / name)
    return folder


class Calls:
    """process_recording that remembers which recordings it ran."""

    def __init__(self):
        self.names: list[str] = []

    def __call__(self, path, *args, **kwargs):
        self.names.append(Path(path).name)
        return process_recording(path, *args, **kwargs)


def run(recordings: Path | list[Path], out: Path, config: PipelineConfig, **options):
    calls = Calls()
    paths = recordings if isinstance(recordings, list) else [recordings]
    report = run_batch(paths, out, config, RunOptions(**options), process=calls, load_models=FakeModels)
    return report, calls.names


def entries(out: Path) -> dict:
    return json.loads((out / MANIFEST_NAME).read_text())["recordings"]


def test_a_run_writes_a_versioned_manifest_with_one_entry_per_recording(recordings, tmp_path, config):
    out = tmp_path / "out"
    report, ran = run(recordings, out, config)
    assert [r.status for r in report.recordings] == ["done", "done", "done"]
    assert ran == ["r1", "r2", "r3"]
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["version"] == 1
    entry = manifest["recordings"]["r1"]
    assert entry["status"] == "done" and entry["error"] == ""
    video = recordings / "r1" / "videos" / "cam0.mp4"
    assert entry["inputs"]["videos/cam0.mp4"] == "sha256:" + hashlib.sha256(video.read_bytes()).hexdigest()
    assert set(entry["inputs"]) == {"store.json", "catalog.csv", "planogram.csv", "videos/cam0.mp4"}
    assert entry["model"]["detector"].startswith("sha256:")
    assert entry["config"].startswith("sha256:")
    assert {"python", "walkout", "numpy"} <= set(entry["versions"])
    assert set(entry["outputs"]) == {*OUTPUTS, "tracks/cam0.txt"}
    assert entry["timings"]["finished"] >= entry["timings"]["started"] and entry["timings"]["attempts"] == 1
    assert all((out / "r1" / name).is_file() for name in entry["outputs"])


def test_rerunning_the_same_command_skips_complete_recordings(recordings, tmp_path, config):
    out = tmp_path / "out"
    run(recordings, out, config)
    before = {p: p.stat().st_mtime_ns for p in (out / "r2").rglob("*")}
    report, ran = run(recordings, out, config)
    assert ran == []
    assert [r.status for r in report.recordings] == ["skipped", "skipped", "skipped"]
    assert {p: p.stat().st_mtime_ns for p in (out / "r2").rglob("*")} == before


def test_force_redoes_every_recording(recordings, tmp_path, config):
    out = tmp_path / "out"
    run(recordings, out, config)
    _, ran = run(recordings, out, config, force=True)
    assert ran == ["r1", "r2", "r3"]


@pytest.mark.parametrize("change", ["store.json", "video", "model", "config", "output deleted", "output edited"])
def test_a_change_redoes_what_it_touches(recordings, tmp_path, config, change):
    out = tmp_path / "out"
    run(recordings, out, config)
    if change == "store.json":
        store = recordings / "r2" / "store.json"
        store.write_text(store.read_text().replace("[30, 20]", "[31, 20]"))
    elif change == "video":
        make_recording(recordings / "r2", frames=13)
    elif change == "model":
        Path(config.detector.model_path).write_bytes(b"retrained weights")
    elif change == "config":
        config = dataclasses.replace(config, merge_window_s=2.0)
    elif change == "output deleted":
        (out / "r2" / "events.csv").unlink()
    else:
        with (out / "r2" / "timeline.json").open("a") as stream:
            stream.write(" ")
    _, ran = run(recordings, out, config)
    assert ran == (["r1", "r2", "r3"] if change in ("model", "config") else ["r2"])


def test_an_output_folder_is_replaced_whole_and_nothing_is_left_beside_it(recordings, tmp_path, config):
    out = tmp_path / "out"
    run(recordings, out, config)
    (out / "r1" / "stale.txt").write_text("from an older run")
    run(recordings, out, config, force=True)
    assert not (out / "r1" / "stale.txt").exists()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".walkout-run.lock"]


def test_a_failing_recording_is_recorded_with_its_error_and_retried_next_time(recordings, tmp_path, config):
    out = tmp_path / "out"
    (recordings / "r2" / "videos" / "cam0.mp4").write_bytes(b"")
    report, ran = run(recordings, out, config)
    assert [r.status for r in report.recordings] == ["done", "failed", "done"]
    failed = entries(out)["r2"]
    assert failed["status"] == "failed"
    assert "cam0.mp4: video file is empty (0 bytes)" in failed["error"]
    assert not (out / "r2").exists()
    _, ran = run(recordings, out, config)
    assert ran == ["r2"]  # the failure is retried, the complete ones are not


def test_fail_fast_stops_at_the_first_failure(recordings, tmp_path, config):
    (recordings / "r1" / "videos" / "cam0.mp4").write_bytes(b"not a video")
    report, ran = run(recordings, tmp_path / "out", config, fail_fast=True)
    assert ran == ["r1"]
    assert [r.status for r in report.recordings] == ["failed", "cancelled", "cancelled"]


def test_models_that_do_not_load_abort_the_run_with_one_message(recordings, tmp_path, config):
    from .walkout_fakes import BrokenModels

    with pytest.raises(RunError, match="cannot load the models: fake.pt: not a model"):
        run_batch([recordings], tmp_path / "out", config, RunOptions(), load_models=BrokenModels)
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()  # nothing was run, nothing is recorded


def test_leftovers_of_an_interrupted_run_are_removed_or_restored(recordings, tmp_path, config):
    out = tmp_path / "out"
    run(recordings, out, config)
    # A run killed mid-write leaves a partial folder; one killed mid-swap leaves the old folder aside.
    (out / ".r1.partial-99999" / "tracks").mkdir(parents=True)
    (out / ".r1.partial-99999" / "events.csv").write_text("timestamp,shopper\n")
    os.rename(out / "r2", out / ".r2.old-99998")
    report, ran = run(recordings, out, config)
    assert ran == []  # r2 came back intact, so it is still complete
    assert not (out / ".r1.partial-99999").exists() and not (out / ".r2.old-99998").exists()
    assert set(entries(out)["r2"]["outputs"]) == {p.relative_to(out / "r2").as_posix() for p in (out / "r2").rglob("*") if p.is_file()}


def test_an_unreadable_manifest_is_kept_aside_and_everything_is_redone(recordings, tmp_path, config):
    out = tmp_path / "out"
    run(recordings, out, config)
    (out / MANIFEST_NAME).write_text('{"version": 1, "recordings": {"r1": ')
    _, ran = run(recordings, out, config)
    assert ran == ["r1", "r2", "r3"]
    assert len(list(out.glob(f"{MANIFEST_NAME}.unreadable-*"))) == 1
    assert set(entries(out)) == {"r1", "r2", "r3"}


def test_one_run_at_a_time_per_output_folder(recordings, tmp_path, config):
    out = tmp_path / "out"
    out.mkdir()
    with (out / ".walkout-run.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunError, match="another walkout run is writing into this folder"):
            run(recordings, out, config)


def test_two_recordings_with_one_folder_name_are_not_mixed_up(tmp_path, config):
    first, second = make_recording(tmp_path / "a" / "shop"), make_recording(tmp_path / "b" / "shop")
    report, ran = run([first, second], tmp_path / "out", config)
    assert [r.status for r in report.recordings] == ["done", "failed"]
    assert "outputs would collide" in report.recordings[1].error
    assert ran == ["shop"]


def test_annotation_hook_runs_on_each_recording_and_its_files_are_outputs(recordings, tmp_path, config, monkeypatch):
    import types

    seen = []

    def annotate_recording(recording_path: Path, run_dir: Path) -> list[Path]:
        seen.append(recording_path.name)
        (run_dir / "annotated").mkdir()
        (run_dir / "annotated" / "cam0.mp4").write_bytes(b"drawn")
        return [run_dir / "annotated" / "cam0.mp4"]

    monkeypatch.setitem(sys.modules, "walkout.annotate", types.SimpleNamespace(annotate_recording=annotate_recording))
    monkeypatch.setattr(batch, "_annotation_available", lambda: True)
    out = tmp_path / "out"
    run(recordings, out, config)  # without --annotate: not called
    assert seen == []
    _, ran = run(recordings, out, config, annotate=True)  # asked now: made (so the recordings are redone)
    assert seen == ran == ["r1", "r2", "r3"]
    assert "annotated/cam0.mp4" in entries(out)["r1"]["outputs"] and entries(out)["r1"]["options"]["annotate"]
    _, ran = run(recordings, out, config)  # annotated output also serves a plain run
    assert ran == []


def test_annotation_without_the_module_warns_and_still_runs(recordings, tmp_path, config, monkeypatch, caplog):
    monkeypatch.setattr(batch.importlib.util, "find_spec", lambda name: None)
    report, _ = run(recordings, tmp_path / "out", config, annotate=True)
    assert [r.status for r in report.recordings] == ["done"] * 3
    assert "walkout.annotate is not available" in caplog.text


def test_file_fingerprints_hash_small_files_whole_and_sample_big_ones(tmp_path):
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 1000)
    assert fingerprint_file(small) == "sha256:" + hashlib.sha256(b"x" * 1000).hexdigest()
    sampling = HashConfig(full_hash_max_bytes=100, sample_bytes=10)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 4)
    first = fingerprint_file(big, sampling)
    assert first.startswith("sampled:")
    big.write_bytes(bytes(range(256)) * 3 + bytes(255) + b"!")  # same size, last byte differs
    assert fingerprint_file(big, sampling) != first
    assert fingerprint_file(tmp_path / "absent.bin") == "missing"


KILL_SCRIPT = """
import dataclasses, sys
from pathlib import Path
from tests.walkout.walkout_fakes import FakeModels
from walkout.config import PipelineConfig
from walkout.pipeline import RunOptions, run_batch

recordings, out, model = sys.argv[1:4]
base = PipelineConfig()
config = dataclasses.replace(base, detector=dataclasses.replace(base.detector, model_path=model))
run_batch([recordings], out, config, RunOptions(workers=int(sys.argv[4])), load_models=FakeModels)
"""


def wait_for(predicate, timeout_s: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def done_names(out: Path) -> set[str]:
    """Recordings the manifest has as done (read only: the manifest is replaced whole, atomically)."""
    try:
        return {name for name, entry in entries(out).items() if entry["status"] == "done"}
    except FileNotFoundError:
        return set()


def assert_every_output_folder_is_complete(out: Path) -> None:
    for folder in (p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        assert {*OUTPUTS, "tracks"} <= {p.name for p in folder.iterdir()}, f"{folder} looks complete but is not"


@pytest.mark.parametrize("workers", [1, 2])
def test_killing_the_run_loses_no_completed_recording_and_a_rerun_finishes(recordings, tmp_path, config, workers):
    for name in ("r4", "r5"):
        make_recording(recordings / name)
    out = tmp_path / "out"
    env = {**os.environ, DELAY_ENV: "0.05", "PYTHONPATH": str(PROJECT_ROOT)}
    args = [sys.executable, "-c", KILL_SCRIPT, str(recordings), str(out), config.detector.model_path, str(workers)]
    process = subprocess.Popen(args, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: done_names(out) or process.poll() is not None, what="the first recording to be done")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    done_before = done_names(out)
    assert 1 <= len(done_before) < 5
    assert_every_output_folder_is_complete(out)
    time.sleep(0.5)  # workers die with their parent (PR_SET_PDEATHSIG); give them a moment
    report, ran = run(recordings, out, config)
    assert set(ran) == {"r1", "r2", "r3", "r4", "r5"} - done_before
    assert {r.name for r in report.recordings if r.status == "skipped"} == done_before
    assert done_names(out) == {"r1", "r2", "r3", "r4", "r5"}
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".walkout-run.lock"]
    assert_every_output_folder_is_complete(out)


@pytest.mark.skipif(not DEFAULT_DETECTOR.is_file(), reason=f"needs the shipped detector {DEFAULT_DETECTOR} (made by walkout train)")
def test_killing_walkout_run_with_the_shipped_model_then_rerunning(recordings, tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "walkout.cli", "run", str(recordings), "--out", str(out), "--workers", "1"]
    process = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: done_names(out) or process.poll() is not None, what="the first recording to be done")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    done_before = done_names(out)
    assert_every_output_folder_is_complete(out)
    result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in done_before:
        assert f"{name}: complete in" in result.stderr
    assert done_names(out) == {"r1", "r2", "r3"}
    assert_every_output_folder_is_complete(out)
