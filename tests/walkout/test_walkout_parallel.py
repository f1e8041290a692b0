"""Parallel runs: local worker processes and Ray give the same outputs as one process; a dead worker
fails (or retries) only its recording; failures are reported with a non-zero exit code.

Worker processes import the stand-in models from ``tests.walkout.walkout_fakes`` (no trained
weights needed); the test with the shipped model is skipped without it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from walkout import batch
from walkout.cli import main
from walkout.config import DEFAULT_DETECTOR, PipelineConfig
from walkout.manifest import MANIFEST_NAME
from walkout.parallel import auto_workers, threads_per_worker
from walkout.pipeline import RunOptions, run_batch

from .walkout_fakes import BUSY_ENV, DELAY_ENV, PROJECT_ROOT, FakeModels, fake_model_file, make_recording

TABLES = ("events.csv", "timeline.json", "tracks.csv", "hands.csv", "tracks/cam0.txt")


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


def entries(out: Path) -> dict:
    return json.loads((out / MANIFEST_NAME).read_text())["recordings"]


def tables(out: Path, name: str) -> dict[str, str]:
    return {table: (out / name / table).read_text() for table in TABLES}


@pytest.mark.parametrize(("workers", "cores", "threads"), [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 8, 4), (4, 10, 2)])
def test_workers_share_the_cores_instead_of_oversubscribing_them(workers, cores, threads):
    assert threads_per_worker(workers, cores) == threads


@pytest.mark.parametrize(("tasks", "cores", "expected"), [(0, 4, 1), (1, 4, 1), (3, 4, 3), (10, 4, 4)])
def test_automatic_workers_are_bounded_by_cores_and_recordings(tasks, cores, expected):
    assert auto_workers(tasks, worker_memory_gb=0.001, cores=cores) == expected


def test_two_local_workers_write_what_one_process_writes(recordings, tmp_path, config):
    serial = run_batch([recordings], tmp_path / "serial", config, RunOptions(workers=1), load_models=FakeModels)
    # One recording per worker process: three recordings are run by three processes, two at a time.
    options = RunOptions(workers=2, max_tasks_per_worker=1)
    pooled = run_batch([recordings], tmp_path / "pooled", config, options, load_models=FakeModels)
    assert (serial.workers, pooled.workers) == (1, 2)
    assert [r.status for r in pooled.recordings] == ["done"] * 3
    for name in ("r1", "r2", "r3"):
        assert tables(tmp_path / "pooled", name) == tables(tmp_path / "serial", name)
    pids = {entry["worker"]["pid"] for entry in entries(tmp_path / "pooled").values()}
    assert os.getpid() not in pids and len(pids) == 3


def run_and_kill_one_worker(recordings: Path, out: Path, config, monkeypatch, retries: int):
    """Run with two workers in a thread; SIGKILL the first worker seen working on a video."""
    busy = out.parent / "busy"
    busy.mkdir()
    monkeypatch.setenv(DELAY_ENV, "0.15")
    monkeypatch.setenv(BUSY_ENV, str(busy))
    reports = []
    options = RunOptions(workers=2, retries=retries)
    thread = threading.Thread(
        target=lambda: reports.append(run_batch([recordings], out, config, options, load_models=FakeModels))
    )
    thread.start()
    deadline = time.monotonic() + 120
    while not list(busy.iterdir()):
        assert time.monotonic() < deadline and thread.is_alive(), "no worker started a video"
        time.sleep(0.02)
    victim = int(next(busy.iterdir()).name)
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=180)
    assert reports, "the run did not finish"
    return reports[0], victim


def test_a_killed_worker_fails_only_its_recording(recordings, tmp_path, config, monkeypatch):
    out = tmp_path / "out"
    report, victim = run_and_kill_one_worker(recordings, out, config, monkeypatch, retries=0)
    statuses = sorted(r.status for r in report.recordings)
    assert statuses == ["done", "done", "failed"]
    failed = report.failed[0]
    assert f"worker process (pid {victim}) killed by SIGKILL" in failed.error
    assert entries(out)[failed.name]["status"] == "failed"
    assert not (out / failed.name).exists()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".walkout-run.lock"]


def test_a_killed_worker_s_recording_is_retried_in_a_new_worker(recordings, tmp_path, config, monkeypatch):
    out = tmp_path / "out"
    report, victim = run_and_kill_one_worker(recordings, out, config, monkeypatch, retries=1)
    assert [r.status for r in report.recordings] == ["done"] * 3
    assert sorted(r.attempts for r in report.recordings) == [1, 1, 2]
    retried = next(r for r in report.recordings if r.attempts == 2)
    assert entries(out)[retried.name]["timings"]["attempts"] == 2
    assert entries(out)[retried.name]["worker"]["pid"] != victim


def test_cli_prints_a_summary_and_exits_non_zero_when_a_recording_fails(recordings, tmp_path, config, monkeypatch, capsys):
    monkeypatch.setattr(batch, "Models", FakeModels)
    args = ["run", str(recordings), "--out", str(tmp_path / "out"), "--model", config.detector.model_path, "--workers", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "3 recording(s): 3 done, 0 failed; 0 shopper(s), 0 event(s)" in printed
    assert printed.splitlines()[0].split() == ["recording", "status", "shoppers", "events", "time_s"]
    make_recording(recordings / "r4").joinpath("videos", "cam0.mp4").write_bytes(b"\x00" * 100)
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "4 recording(s): 0 done, 3 skipped (complete already), 1 failed" in captured.out
    assert "FAILED" in captured.out and f"FAILED {recordings / 'r4'}:" in captured.err
    assert "cam0.mp4: cannot open video" in captured.err


def test_cli_fail_fast_exits_non_zero_and_says_what_was_not_run(recordings, tmp_path, config, monkeypatch, capsys):
    monkeypatch.setattr(batch, "Models", FakeModels)
    (recordings / "r1" / "store.json").write_text("{")
    args = ["run", str(recordings), "--out", str(tmp_path / "out"), "--model", config.detector.model_path,
            "--workers", "1", "--fail-fast"]
    assert main(args) == 1
    assert "0 done, 1 failed, 2 not run (fail-fast)" in capsys.readouterr().out


def test_progress_bars_go_to_stderr_and_the_summary_to_stdout(recordings, tmp_path, config, capsys):
    options = RunOptions(workers=1, progress=True)
    run_batch([recordings], tmp_path / "out", config, options, load_models=FakeModels)
    captured = capsys.readouterr()
    assert "recordings: 100%" in captured.err and "3/3" in captured.err


def test_ray_engine_says_how_to_install_ray_when_it_is_missing(recordings, tmp_path, config, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    args = ["run", str(recordings), "--out", str(tmp_path / "out"), "--model", config.detector.model_path, "--engine", "ray"]
    assert main(args) == 1
    assert "pip install 'walkout[ray]'" in capsys.readouterr().err


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not ray_available(), reason="ray is not installed (the optional extra: pip install 'walkout[ray]')")
def test_ray_engine_writes_what_local_workers_write_and_survives_a_killed_worker(recordings, tmp_path, config):
    import ray

    serial = run_batch([recordings], tmp_path / "serial", config, RunOptions(workers=1), load_models=FakeModels)
    assert [r.status for r in serial.recordings] == ["done"] * 3
    busy = tmp_path / "busy"
    busy.mkdir()
    environment = {"PYTHONPATH": str(PROJECT_ROOT), DELAY_ENV: "0.1", BUSY_ENV: str(busy)}
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": environment})
    try:
        options = RunOptions(workers=2, engine="ray")
        report = run_batch([recordings], tmp_path / "ray", config, options, load_models=FakeModels)
        assert [r.status for r in report.recordings] == ["done"] * 3, [r.error for r in report.recordings]
        rerun = run_batch([recordings], tmp_path / "ray", config, options, load_models=FakeModels)
        assert [r.status for r in rerun.recordings] == ["skipped"] * 3
        # A Ray worker killed in the middle of a recording: that recording is retried by a new worker.
        for mark in busy.iterdir():
            mark.unlink()
        reports = []
        thread = threading.Thread(target=lambda: reports.append(
            run_batch([recordings], tmp_path / "ray", config, dataclasses.replace(options, force=True),
                      load_models=FakeModels)))
        thread.start()
        deadline = time.monotonic() + 120
        while not list(busy.iterdir()):
            assert time.monotonic() < deadline and thread.is_alive(), "no Ray worker started a video"
            time.sleep(0.02)
        os.kill(int(next(busy.iterdir()).name), signal.SIGKILL)
        thread.join(timeout=180)
    finally:
        ray.shutdown()
    for name in ("r1", "r2", "r3"):
        assert tables(tmp_path / "ray", name) == tables(tmp_path / "serial", name)
    assert [r.status for r in reports[0].recordings] == ["done"] * 3
    assert sorted(r.attempts for r in reports[0].recordings) == [1, 1, 2]
    workers = {entry["worker"]["pid"] for entry in entries(tmp_path / "ray").values()}
    assert os.getpid() not in workers
    assert sorted(p.name for p in (tmp_path / "ray").iterdir() if p.name.startswith(".")) == [".walkout-run.lock"]


def worker_pids(parent: int) -> list[int]:
    """Worker processes spawned by ``parent`` (not multiprocessing's resource tracker)."""
    children = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
    found = []
    for pid in children:
        try:
            if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not DEFAULT_DETECTOR.is_file(), reason=f"needs the shipped detector {DEFAULT_DETECTOR} (made by walkout train)")
def test_walkout_run_with_two_workers_and_the_shipped_model_survives_a_killed_worker(tmp_path):
    recordings = tmp_path / "recordings"
    for name in ("r1", "r2", "r3"):  # long enough that the kill lands while recordings run (seconds each)
        make_recording(recordings / name, frames=400)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "walkout.cli", "run", str(recordings), "--out", str(out), "--workers", "2",
            "--retries", "0"]
    process = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim, deadline = None, time.monotonic() + 300
    while victim is None and process.poll() is None and time.monotonic() < deadline:
        workers = worker_pids(process.pid)
        if len(workers) == 2 and any(out.glob(".*.partial-*")) is False and (out / ".walkout-run.lock").exists():
            time.sleep(2.5)  # past importing and loading the models (about 2 s), into the first recordings
            for pid in worker_pids(process.pid):  # a worker may have been recycled meanwhile
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                victim = pid
                break
        time.sleep(0.1)
    stdout, stderr = process.communicate(timeout=600)
    if victim is None:
        pytest.skip("the run finished before a worker could be killed")
    statuses = {name: entry["status"] for name, entry in entries(out).items()}
    assert sorted(statuses) == ["r1", "r2", "r3"]
    if process.returncode == 1:
        assert "killed by SIGKILL" in stderr and list(statuses.values()).count("failed") == 1
        assert list(statuses.values()).count("done") == 2
    else:  # the worker was killed between two recordings: nothing was lost
        assert process.returncode == 0, stderr
        assert set(statuses.values()) == {"done"}
