"""The recording loader and `walkout validate`: what is there, and every problem, named by file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from formats.errors import FormatError
from walkout.cli import main
from walkout.recording import load_recording, validate_recording

from .conftest import SHARED_DATA


def test_a_good_recording_loads(recording: Path):
    loaded = load_recording(recording)
    assert loaded.name == "tiny"
    assert [c.id for c in loaded.cameras] == ["cam0"]
    assert loaded.cameras[0].zones[0].plates == (1, 2)
    assert loaded.catalog["sku"].tolist() == ["0001", "0002"]  # leading zeros kept
    assert loaded.planogram["plate"].tolist() == [1, 2]
    assert loaded.truth_events["sku"].tolist() == ["0001"]


def test_a_good_recording_validates(recording: Path):
    report = validate_recording(recording)
    assert report.ok, report.describe()
    assert "camera cam0: videos/cam0.mp4 64x48 10 fps, 5 frames" in report.describe()


def _edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


BAD_INPUTS = [
    ("catalog.csv", "sku,name,weight_g", "sku,name,grams", "catalog.csv, line 1: missing column(s) weight_g"),
    ("catalog.csv", "0002,Jam,340.5", "0002,Jam,heavy", "catalog.csv, line 3, field 'weight_g': 'heavy' is not a number"),
    ("catalog.csv", "0002,Jam,340.5", "0002,Jam,-3", "catalog.csv, line 3, field 'weight_g': weight must be >= 0"),
    ("planogram.csv", "A1,2,0002", "A1,2,0099", "planogram.csv, line 3, field 'sku': sku 0099 is not in the catalog"),
    ("planogram.csv", "A1,2,0002", "A1,two,0002", "planogram.csv, line 3, field 'plate': 'two' is not an integer"),
    ("store.json", "[30, 1], [30, 20], [1, 20]", "[30, 1]", "polygon has 2 point(s); a zone needs at least 3"),
    ("store.json", "videos/cam0.mp4", "videos/nope.mp4", "nope.mp4: video file not found"),
    ("store.json", "1700000000.0", "\"soon\"", "start_timestamp must be a number"),
    ("store.json", "1700000000.0", "1700000000000.0", "start_timestamp looks like milliseconds"),
    ("store.json", "\"shelf\": \"A1\"", "\"shelf\": \"Z9\"", "shelf 'Z9' is not in the planogram"),
    ("store.json", "[30, 20], [1, 20]", "[3000, 20], [1, 20]", "polygon leaves the 64x48 image"),
    ("truth/events.csv", "pick,0001", "grab,0001", "events.csv, line 2, field 'action': action 'grab' is not pick or return"),
    ("truth/events.csv", "1700000001.0", "1700000001000.0", "timestamp looks like milliseconds"),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), BAD_INPUTS, ids=[m for *_, m in BAD_INPUTS])
def test_validator_names_file_and_problem(recording: Path, file: str, old: str, new: str, message: str):
    _edit(recording / file, old, new)
    report = validate_recording(recording)
    assert not report.ok
    assert any(message in str(problem) for problem in report.problems), report.describe()


def test_validator_reports_every_problem_not_just_the_first(recording: Path):
    _edit(recording / "catalog.csv", "0002,Jam,340.5", "0002,Jam,heavy")
    _edit(recording / "store.json", "videos/cam0.mp4", "videos/nope.mp4")
    assert len(validate_recording(recording).problems) >= 2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: (root / "store.json").unlink(), "store.json: file not found"),
        (lambda root: (root / "store.json").write_text("{not json"), "store.json: not valid JSON"),
        (lambda root: (root / "videos" / "cam0.mp4").write_bytes(b""), "video file is empty"),
        (lambda root: (root / "videos" / "cam0.mp4").write_bytes(b"\x00garbage" * 100), "cam0.mp4: cannot open video"),
        (lambda root: (root / "catalog.csv").write_text(""), "catalog.csv: file is empty"),
    ],
)
def test_broken_files(recording: Path, damage, message: str):
    damage(recording)
    report = validate_recording(recording)
    assert any(message in str(p) for p in report.problems), report.describe()


def test_load_raises_on_first_problem(recording: Path):
    _edit(recording / "planogram.csv", "A1,2,0002", "A1,2,0099")
    with pytest.raises(FormatError, match="sku 0099 is not in the catalog"):
        load_recording(recording)


def test_not_a_folder(tmp_path: Path):
    assert "not a folder" in str(validate_recording(tmp_path / "missing").problems[0])


def test_cli_exit_codes(recording: Path, tmp_path: Path, capsys):
    assert main(["validate", str(recording)]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["validate", str(recording), str(tmp_path / "missing")]) == 1


def test_store_with_wrong_types(recording: Path):
    store = json.loads((recording / "store.json").read_text())
    store["cameras"][0]["zones"][0]["plates"] = "1,2"
    store["cameras"][0]["id"] = "cam 0"
    (recording / "store.json").write_text(json.dumps(store))
    text = " | ".join(str(p) for p in validate_recording(recording).problems)
    assert "plates must be a list of integers" in text
    assert "id must match" in text


@pytest.mark.skipif(not (SHARED_DATA / "aifi-cps-test-01").is_dir(), reason="../shared/data is not beside the project")
def test_reads_the_real_aifi_recording_as_is():
    loaded = load_recording(SHARED_DATA / "aifi-cps-test-01")
    assert loaded.cameras == ()
    assert len(loaded.planogram) == 294  # rows of its planogram.csv; 54 logged plates are not in it
    assert loaded.weights_path.name == "weights.csv.gz"
    assert set(loaded.truth_events["sku"]) == {"071063437089", "632565000012"}
    camera = load_recording(SHARED_DATA / "aifi-cps-test-2").cameras[0]
    assert camera.id == "cam6" and camera.zones == ()
