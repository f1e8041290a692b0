"""benchmarks/refuse.py: existing vision runs re-fused under a new name, the source runs untouched,
a recording that fails named and left out."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from fusion_synth import LogSpec, Step, make_log, write_events, write_recording

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from refuse import refuse_set  # noqa: E402  (benchmarks/ is not a package)


@pytest.fixture
def accuracy_set(tmp_path):
    """An OUT folder of benchmarks/accuracy.py: two recordings of the two-shopper group, each with a run."""
    root = tmp_path / "acc"
    for seed, shopper in (("seed0001", "1"), ("seed0002", "2")):
        steps = [Step("A1", 3, 5.3, -120.0)]
        write_recording(root / "two" / "recordings" / seed, make_log(LogSpec(duration_s=10.0, steps=steps, seed=3)))
        run = root / "two" / "runs" / seed
        run.mkdir(parents=True)
        write_events(run / "events.csv", [(5.2, shopper, "pick", "0002", 1, "A1")])
    return root


def test_runs_are_fused_under_the_new_name_and_the_source_is_left_alone(accuracy_set):
    assert refuse_set(accuracy_set, "runs", "refused") == (2, 0)
    for seed in ("seed0001", "seed0002"):
        assert (accuracy_set / "two" / "refused" / seed / "receipts.json").is_file()
        assert (accuracy_set / "two" / "refused" / seed / "events.csv").is_file()
        assert not (accuracy_set / "two" / "runs" / seed / "receipts.json").exists()
    # Only the new name and the inputs: no staging folder left behind.
    assert sorted(p.name for p in (accuracy_set / "two").iterdir()) == ["recordings", "refused", "runs"]


def test_a_recording_whose_fusion_fails_is_named_and_the_others_finish(accuracy_set, caplog):
    (accuracy_set / "two" / "recordings" / "seed0001" / "catalog.csv").unlink(missing_ok=True)
    with caplog.at_level(logging.ERROR):
        assert refuse_set(accuracy_set, "runs", "refused") == (1, 1)
    assert "seed0001" in caplog.text and "catalog.csv" in caplog.text
    assert not (accuracy_set / "two" / "refused" / "seed0001").exists()
    assert (accuracy_set / "two" / "refused" / "seed0002" / "receipts.json").is_file()


def test_the_target_must_differ_from_the_source(accuracy_set):
    with pytest.raises(SystemExit, match="must differ"):
        refuse_set(accuracy_set, "runs", "runs")
