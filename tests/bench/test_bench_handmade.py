"""scripts/make_handmade_predictions.py: bench finds exactly the errors the script says it made."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from walkout.bench import run_bench

from .conftest import make_recording, two_shopper_tracks

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_handmade_predictions.py"


def load_script():
    spec = importlib.util.spec_from_file_location("make_handmade_predictions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_lists_the_deliberate_errors(tmp_path):
    truth = [
        (1.0, 1, "pick", "a1", 1),
        (2.5, 2, "pick", "b2", 2),
        (4.0, 1, "pick", "c3", 1),
        (5.5, 2, "pick", "a1", 1),
        (7.0, 1, "return", "a1", 1),
        (8.5, 2, "pick", "d4", 1),
    ]
    recording, _ = make_recording(tmp_path, "demo", truth, None, truth_tracks=two_shopper_tracks((1, 2), 100))
    (recording / "catalog.csv").write_text("sku,name,weight_g\na1,A,1\nb2,B,1\nc3,C,1\nd4,D,1\ne5,E,1\n")
    load_script().make_predictions(recording, tmp_path / "pred", seed=0, jitter_s=0.5, box_jitter_px=2.0)
    report = run_bench([recording], tmp_path / "pred")
    (result,) = report.results
    kinds = sorted(row["kind"] for row in result.confusion)
    # dropped -> missed; swapped sku -> missed + extra; other shopper -> misattributed;
    # quantity +1 -> quantity; added pick -> extra.
    assert kinds == ["extra", "extra", "misattributed", "missed", "missed", "quantity"]
    assert result.id_mapping == {"cam0": {"700": "2", "701": "1"}}  # ids permuted, mapped back
    assert report.metrics()["mota"] == 1.0
