"""`walkout bench` in-process: report files, failures that do not stop others, --fail-under."""

from __future__ import annotations

import json

import pytest

from walkout.cli import main

from .conftest import make_recording, two_shopper_tracks

TRUTH = [
    (0.5, 1, "pick", "a", 1),
    (2.0, 2, "pick", "b", 2),
    (4.0, 1, "pick", "c", 1),
    (6.0, 2, "return", "b", 1),
]
# Right except: c missed, an extra d, and quantity 1 instead of 2 for b.
PRED = [
    (0.7, 7, "pick", "a", 1, "cam0", 7),
    (2.1, 9, "pick", "b", 1, "cam0", 21),
    (5.0, 9, "pick", "d", 1, "cam0", 50),
    (6.2, 9, "return", "b", 1, "cam0", 62),
]
RUN = {
    "timings": {
        "cam0": {
            "frames": 100,
            "video_s": 10.0,
            "total_s": 4.0,
            "stages_s": {"decode": 0.5, "detect": 3.0, "track": 0.3, "events": 0.2},
        }
    },
    "baselines": {"decode_only": {"cam0": {"frames": 100, "video_s": 10.0, "total_s": 0.5}}},
}


@pytest.fixture
def bench_inputs(tmp_path):
    recording, predictions = make_recording(
        tmp_path,
        "shop1",
        TRUTH,
        PRED,
        truth_tracks=two_shopper_tracks((1, 2)),
        pred_tracks=two_shopper_tracks((7, 9)),
        run_info=RUN,
        receipts={
            "version": 1,
            "recording": "shop1",
            "shoppers": {"7": {"items": {"a": 1}, "lines": []}},
            "unattributed": {"items": {"b": 1, "c": 1}, "lines": []},
        },
    )
    return recording, predictions, tmp_path / "report"


def test_report_files(bench_inputs, capsys):
    recording, predictions, out = bench_inputs
    assert main(["bench", str(recording), "--predictions", str(predictions), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["version"] == 1
    assert set(report) >= {"version", "config", "recordings", "overall", "metrics", "failed"}
    assert set(report["overall"]) >= {"events", "carts", "receipts", "receipt_store", "tracking", "speed"}
    overall = report["overall"]
    assert overall["events"]["product"] == {
        "matched": 3,
        "false_pos": 1,
        "missed": 1,
        "precision": 3 / 4,
        "recall": 3 / 4,
        "f1": 3 / 4,
    }
    assert overall["events"]["quantity_mismatches"] == 1
    assert overall["carts"]["receipt_accuracy"] == 0 / 2  # shopper 1 lacks c, shopper 2 has d not b
    assert overall["receipt_store"]["matched"] == 3  # a, b, c all in receipts.json: weight-only exact
    assert overall["receipt_store"]["false_pos"] == 0 and overall["receipt_store"]["missed"] == 0
    assert overall["tracking"]["mota"] == 1.0
    assert overall["speed"]["total"]["realtime_factor"] == 10.0 / 4.0
    kinds = sorted(c["kind"] for c in report["recordings"][0]["confusion"])
    assert kinds == ["extra", "missed", "quantity"]
    markdown = (out / "report.md").read_text()
    for heading in ("## Events", "## Receipts", "## Tracking", "## Speed", "| recording | level | matched |"):
        assert heading in markdown
    assert (out / "confusion.csv").read_text().count("\n") == 1 + 3
    assert "product_f1" in capsys.readouterr().out


def test_bad_recording_does_not_stop_others(bench_inputs, tmp_path, capsys):
    recording, predictions, out = bench_inputs
    broken, _ = make_recording(tmp_path, "broken", None, PRED)  # no truth/events.csv
    malformed, _ = make_recording(tmp_path, "malformed", TRUTH, PRED)
    (malformed / "truth" / "events.csv").write_text(
        "timestamp,shopper,action,sku,quantity,shelf\nsoon,1,pick,a,1,A1\n"
    )
    code = main(
        [
            "bench",
            str(broken),
            str(recording),
            str(malformed),
            "--predictions",
            str(predictions),
            "--out",
            str(out),
        ]
    )
    assert code == 1
    report = json.loads((out / "report.json").read_text())
    assert report["failed"] == ["broken", "malformed"]
    assert [r["status"] for r in report["recordings"]] == ["failed", "ok", "failed"]
    assert "truth" in report["recordings"][0]["error"] and "line 2" in report["recordings"][2]["error"]
    assert report["overall"]["events"]["product"]["matched"] == 3
    assert "FAILED broken" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("floors", "code", "message"),
    [
        (["product_f1=0.7", "hota=0.9"], 0, None),
        (["product_f1=0.8", "receipt_accuracy=0.5"], 1, "product_f1 = 0.750 is below 0.8"),
        (["attributed_f1=0.9"], 1, "attributed_f1"),
        (["no_such_metric=0.5"], 2, "unknown metric 'no_such_metric'"),
        (["product_f1"], 2, "METRIC=VALUE"),
    ],
)
def test_fail_under(bench_inputs, capsys, floors, code, message):
    recording, predictions, out = bench_inputs
    args = ["bench", str(recording), "--predictions", str(predictions), "--out", str(out)]
    for floor in floors:
        args += ["--fail-under", floor]
    assert main(args) == code
    err = capsys.readouterr().err
    if message:
        assert message in err
    if code == 2:
        assert not (out / "report.json").exists()  # usage errors stop before scoring


def test_fail_under_names_every_metric_below(bench_inputs, capsys):
    recording, predictions, out = bench_inputs
    args = [
        "bench",
        str(recording),
        "--predictions",
        str(predictions),
        "--out",
        str(out),
        "--fail-under",
        "product_f1=0.8",
        "--fail-under",
        "receipt_accuracy=0.5",
    ]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "product_f1 = 0.750 is below 0.8" in err and "receipt_accuracy = 0.000 is below 0.5" in err
    assert (out / "report.json").is_file()  # written before the floors are checked


def test_without_predictions_runs_the_pipeline_or_says_why(bench_inputs, capsys):
    # The hand-made recording has no video: whether walkout.pipeline is missing, lacks its model, or
    # runs and fails on this recording, bench must end with a clear message and a non-zero code.
    recording, _, out = bench_inputs
    assert main(["bench", str(recording), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "pipeline" in err or "predictions" in err


def test_folder_of_recordings_stands_for_all(bench_inputs, tmp_path):
    recording, predictions, out = bench_inputs
    make_recording(tmp_path, "shop2", TRUTH, TRUTH)
    assert main(["bench", str(recording.parent), "--predictions", str(predictions), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in report["recordings"]] == ["shop1", "shop2"]
    assert report["recordings"][1]["events"]["product"]["f1"] == 1.0
