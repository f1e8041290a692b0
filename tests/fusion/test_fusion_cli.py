"""`walkout fuse` in-process: outputs written, one clear line and a non-zero exit on bad input."""

from __future__ import annotations

import json

import pytest
from fusion_synth import LogSpec, Step, make_log, write_events, write_recording

from walkout.cli import main


@pytest.fixture
def store(tmp_path):
    return write_recording(tmp_path / "rec", make_log(LogSpec(duration_s=10.0, steps=[Step("A1", 3, 5.0, -120.0)])))


def test_fuse_writes_three_files(store, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["fuse", str(store), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["discrepancies.csv", "receipts.json", "weight_events.csv"]
    assert json.loads((out / "receipts.json").read_text())["unattributed"]["items"] == {"0002": 1}
    assert "1 weight event(s)" in capsys.readouterr().out


def test_fuse_reads_events_from_a_run_directory_and_a_config(store, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [(4.8, "7", "pick", "0002", 1, "A1")])
    config = tmp_path / "fuse.toml"
    config.write_text("[reconcile]\nwindow_s = 2.0\n[weight_events]\nmin_delta_g = 8\n")
    out = tmp_path / "out"
    assert main(["fuse", str(store), "--events", str(run), "--out", str(out), "--config", str(config)]) == 0
    receipts = json.loads((out / "receipts.json").read_text())
    assert receipts["shoppers"]["7"]["lines"][0]["status"] == "confirmed"


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda rec, tmp: (rec / "planogram.csv").unlink(), "planogram.csv: file not found"),
        (lambda rec, tmp: (rec / "weights.csv.gz").unlink(), "no weight log"),
        (lambda rec, tmp: (tmp / "bad.toml").write_text("[nope]\n"), "bad.toml: unknown section(s) nope"),
        (lambda rec, tmp: (tmp / "run").mkdir(), "run directory has no events.csv"),
    ],
)
def test_bad_input_is_one_clear_line(store, tmp_path, capsys, break_it, message):
    break_it(store, tmp_path)
    args = ["fuse", str(store), "--out", str(tmp_path / "out")]
    if (tmp_path / "bad.toml").exists():
        args += ["--config", str(tmp_path / "bad.toml")]
    if (tmp_path / "run").exists():
        args += ["--events", str(tmp_path / "run")]
    assert main(args) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert any(message in line for line in err)
    assert "Traceback" not in "\n".join(err)
