"""Fusion in the batch: `walkout run --fuse` fuses each recording right after its vision, `walkout fuse
RUNS` fuses the run folders of a `walkout run --out` folder; both resumable through the manifest, one
failure never stops the others, and redoing vision never leaves a folder without its receipts.

The real pipeline runs with a detector that sees nothing (walkout_fakes.FakeModels): weight-only
receipts from a flat weight log, enough to see what is fused, skipped and redone.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from fusion.pipeline import FuseConfig, fuse_recording
from walkout.batch import RunOptions, run_batch
from walkout.cli import main
from walkout.config import PipelineConfig
from walkout.fuse_step import FUSED_FILES
from walkout.manifest import MANIFEST_NAME

from .walkout_fakes import FakeModels, fake_config, make_recording


def write_weights(recording: Path, grams: float = 900.0) -> None:
    (recording / "weights.csv").write_text("timestamp,shelf,plate,grams\n" + "".join(
        f"{1700000000 + i / 10:.1f},A1,1,{grams:.1f}\n" for i in range(30)))


@pytest.fixture
def config(tmp_path: Path) -> PipelineConfig:
    return fake_config(tmp_path)


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    """r1, r2, r3: tiny recordings, each with a flat weight log."""
    for name in ("r1", "r2", "r3"):
        write_weights(make_recording(tmp_path / "recordings" / name))
    return tmp_path / "recordings"


def run(recordings: Path, out: Path, config: PipelineConfig, **options):
    return run_batch([recordings], out, config, RunOptions(**options), load_models=FakeModels)


def fuse(runs: Path, fuse: FuseConfig | None = None, **options):
    """`walkout fuse RUNS`: every recording the manifest of ``runs`` lists."""
    recorded = [Path(entry["recording"]) for entry in entries(runs).values()]
    return run_batch(recorded, runs, options=RunOptions(vision=False, fuse=fuse or FuseConfig(), **options))


def entries(out: Path) -> dict:
    return json.loads((out / MANIFEST_NAME).read_text())["recordings"]


def statuses(report) -> dict[str, tuple[str, str]]:
    return {r.name: (r.status, r.fused) for r in report.recordings}


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}


def test_run_with_fuse_writes_the_receipts_and_records_the_fusion(recordings, tmp_path, config):
    out = tmp_path / "out"
    report = run(recordings, out, config, fuse=FuseConfig())
    assert statuses(report) == {name: ("done", "done") for name in ("r1", "r2", "r3")}
    for name in ("r1", "r2", "r3"):
        assert all((out / name / file).is_file() for file in FUSED_FILES)
        record = entries(out)[name]["fuse"]
        assert record["status"] == "done" and set(record["outputs"]) == set(FUSED_FILES)
        assert {"recording/weights.csv", "run/events.csv", "attribution model"} <= set(record["inputs"])
        assert not set(FUSED_FILES) & set(entries(out)[name]["outputs"])  # vision's files are vision's


def test_rerunning_run_with_fuse_skips_what_is_fused_and_current(recordings, tmp_path, config):
    out = tmp_path / "out"
    run(recordings, out, config, fuse=FuseConfig())
    before = mtimes(out / "r2")
    report = run(recordings, out, config, fuse=FuseConfig())
    assert statuses(report) == {name: ("skipped", "skipped") for name in ("r1", "r2", "r3")}
    assert mtimes(out / "r2") == before


def test_a_failed_fusion_fails_its_recording_only_keeps_its_vision_and_is_retried_alone(recordings, tmp_path, config):
    out = tmp_path / "out"
    (recordings / "r2" / "weights.csv").unlink()
    report = run(recordings, out, config, fuse=FuseConfig())
    assert statuses(report) == {"r1": ("done", "done"), "r2": ("failed", "failed"), "r3": ("done", "done")}
    assert "fusion failed:" in report.recordings[1].error and "no weight log" in report.recordings[1].error
    assert (out / "r2" / "events.csv").is_file() and not (out / "r2" / "receipts.json").exists()
    assert entries(out)["r2"]["status"] == "done" and entries(out)["r2"]["fuse"]["status"] == "failed"
    vision_before = mtimes(out / "r2")
    write_weights(recordings / "r2")
    report = run(recordings, out, config, fuse=FuseConfig())
    assert statuses(report) == {"r1": ("skipped", "skipped"), "r2": ("done", "done"), "r3": ("skipped", "skipped")}
    assert mtimes(out / "r2")["events.csv"] == vision_before["events.csv"]  # only fusion was redone


def test_walkout_fuse_over_a_runs_folder_fuses_each_run_folder_and_resumes(recordings, tmp_path, config):
    out = tmp_path / "out"
    run(recordings, out, config)
    assert not any((out / name / "receipts.json").exists() for name in ("r1", "r2", "r3"))
    assert statuses(fuse(out)) == {name: ("done", "done") for name in ("r1", "r2", "r3")}
    assert statuses(fuse(out)) == {name: ("skipped", "skipped") for name in ("r1", "r2", "r3")}
    write_weights(recordings / "r3", grams=901.0)  # a new weight log: only r3 is fused again
    assert statuses(fuse(out)) == {"r1": ("skipped", "skipped"), "r2": ("skipped", "skipped"), "r3": ("done", "done")}
    other = FuseConfig(attribution=dataclasses.replace(FuseConfig().attribution, second_take=2.0))
    assert statuses(fuse(out, fuse=other)) == {name: ("done", "done") for name in ("r1", "r2", "r3")}
    assert statuses(fuse(out, fuse=other, force=True)) == {name: ("done", "done") for name in ("r1", "r2", "r3")}
    assert statuses(run(recordings, out, config)) == {name: ("skipped", "") for name in ("r1", "r2", "r3")}


def test_force_refuses_a_fused_folder_with_the_settings_of_its_last_fusion(recordings, tmp_path, config):
    out = tmp_path / "out"
    custom = FuseConfig(attribution=dataclasses.replace(FuseConfig().attribution, second_take=2.0))
    run(recordings, out, config, fuse=custom)
    fingerprint = entries(out)["r1"]["fuse"]["config"]
    before = mtimes(out / "r1")
    report = run(recordings, out, config, force=True)  # no --fuse: the receipts are still redone
    assert statuses(report) == {name: ("done", "done") for name in ("r1", "r2", "r3")}
    after = mtimes(out / "r1")
    assert all(after[file] != before[file] for file in ("events.csv", *FUSED_FILES))
    assert entries(out)["r1"]["fuse"]["config"] == fingerprint
    assert statuses(run(recordings, out, config, fuse=custom)) == {name: ("skipped", "skipped") for name in ("r1", "r2", "r3")}


def test_force_refuses_receipts_fused_outside_the_batch_with_the_defaults_and_says_so(recordings, tmp_path, config):
    out = tmp_path / "out"
    run(recordings, out, config)
    fuse_recording(recordings / "r1", out / "r1", out / "r1")  # `walkout fuse r1 --events out/r1 --out out/r1`
    report = run(recordings, out, config, force=True)
    assert statuses(report) == {"r1": ("done", "done"), "r2": ("done", ""), "r3": ("done", "")}
    assert all((out / "r1" / file).is_file() for file in FUSED_FILES)
    [warning] = report.recordings[0].warnings
    assert "no record of" in warning and "default fuse config" in warning and f"walkout fuse {out}" in warning


def test_the_fuse_command_takes_a_runs_folder_or_recordings_with_events_and_refuses_ambiguity(
        recordings, tmp_path, config, capsys):
    out = tmp_path / "out"
    run(recordings, out, config)
    assert main(["fuse", str(recordings / "r1"), str(recordings / "r2"), "--events", str(out)]) == 0
    assert (out / "r2" / "receipts.json").is_file() and not (out / "r3" / "receipts.json").exists()
    assert main(["fuse", str(out)]) == 0
    table = capsys.readouterr().out
    assert "r1" in table and "skipped" in table and "3 recording(s): 1 done" in table
    assert main(["fuse", str(recordings / "r1"), str(recordings / "r2")]) == 2  # several, no runs folder
    assert "one recording needs --out DIR" in capsys.readouterr().err
    assert main(["fuse", str(out), "--out", str(tmp_path / "elsewhere")]) == 2
    assert "leave out --out" in capsys.readouterr().err


def test_fusing_a_recording_without_vision_outputs_fails_it_with_what_to_run(recordings, tmp_path, config):
    out = tmp_path / "out"
    run(recordings / "r1", out, config)
    report = run_batch([recordings], out, options=RunOptions(vision=False, fuse=FuseConfig()))
    assert statuses(report) == {"r1": ("done", "done"), "r2": ("failed", ""), "r3": ("failed", "")}
    assert "no complete `walkout run` output" in report.recordings[1].error
    assert f"walkout run {recordings / 'r2'} --out {out}" in report.recordings[1].error
