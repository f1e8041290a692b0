"""Hostile input: every bad file gets one clear error naming it, or a logged recovery, and a bad
recording never costs the good ones (or earlier runs) their outputs.

``walkout validate``, ``walkout run`` and ``walkout fuse`` are run in-process through ``main``. The
run uses a detector that sees nothing, so the real pipeline (decoding, writers, manifest) runs on
real files without trained weights.
"""

from __future__ import annotations

import gzip
import json
import stat
import wave
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.detector import empty_detections
from walkout import batch
from walkout.cli import main

T0 = 1_700_000_000.0
CATALOG = "sku,name,weight_g\n0001,Tea,250\n0002,Jam,340\n"
PLANOGRAM = "shelf,plate,sku\nA1,1,0001\nA1,2,0002\n"


class NothingSeen:
    def detect(self, frames):
        return [empty_detections() for _ in frames]


class FakeModels:
    """Models-like: a detector that finds nothing; no hand-crop classifier, no separate hand model."""

    def __init__(self, config):
        self.detector, self.classifier, self.hand_detector, self.held_from_reaches = NothingSeen(), None, None, False
        self.held_items, self.reaching, self.embedder = False, None, None


def write_video(path: Path, frames: int = 12, fourcc: str = "mp4v", size: tuple[int, int] = (64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (9 * i) % 255, dtype=np.uint8))
    writer.release()
    return path


def weight_rows(seconds: float = 4.0, hz: float = 10.0) -> list[str]:
    """Readings of two plates at rest (tare + stock), then a 250 g item leaves plate 1 at T0 + 2 s."""
    rows = []
    for i in range(int(seconds * hz)):
        t = T0 + i / hz
        rows.append(f"{t:.3f},A1,1,{1500.0 - 250.0 * (t >= T0 + 2):.1f}")
        rows.append(f"{t:.3f},A1,2,{2040.0:.1f}")
    return rows


def make_recording(root: Path, video: str = "videos/cam0.mp4") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    store = {
        "version": 1,
        "name": root.name,
        "cameras": [{
            "id": "cam0", "video": video, "start_timestamp": T0,
            "zones": [{"shelf": "A1", "plates": [1, 2], "polygon": [[1, 1], [30, 1], [30, 20], [1, 20]]}],
        }],
    }
    (root / "store.json").write_text(json.dumps(store, ensure_ascii=False))
    (root / "catalog.csv").write_text(CATALOG)
    (root / "planogram.csv").write_text(PLANOGRAM)
    (root / "weights.csv").write_text("timestamp,shelf,plate,grams\n" + "\n".join(weight_rows()) + "\n")
    write_video(root / video, fourcc="MJPG" if video.endswith(".avi") else "mp4v")
    return root


@pytest.fixture
def walkout_cli(tmp_path: Path, monkeypatch, capsys) -> Callable[..., tuple[int, str, str]]:
    """``walkout ...`` in this process -> (exit code, stdout, stderr); ``run`` gets the stand-in models."""
    monkeypatch.setattr(batch, "Models", FakeModels)
    model = tmp_path / "fake-det.pt"
    model.write_bytes(b"stand-in weights")

    def cli(*args: str | Path) -> tuple[int, str, str]:
        argv = [str(a) for a in args]
        if argv[0] == "run":
            argv += ["--model", str(model), "--workers", "1"]
        code = main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return cli


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["recordings"]


def still_image(path: Path) -> None:
    path.write_bytes(cv2.imencode(".png", np.zeros((48, 64, 3), dtype=np.uint8))[1].tobytes())


def audio(path: Path) -> None:
    with wave.open(str(path), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(np.zeros(8000, dtype=np.int16).tobytes())


VIDEO_DAMAGE = {
    "truncated": (lambda v: v.write_bytes(v.read_bytes()[: v.stat().st_size // 2]), "cannot open video"),
    "zero-length": (lambda v: v.write_bytes(b""), "video file is empty (0 bytes)"),
    "text named .mp4": (lambda v: v.write_text("this is not a video\n"), "cannot open video"),
    "random bytes": (lambda v: v.write_bytes(np.random.default_rng(7).bytes(4096)), "cannot open video"),
    "audio named .mp4": (audio, "cannot open video"),
    "still image named .mp4": (still_image, "a single still image, not a video"),
    "missing": (lambda v: v.unlink(), "video file not found"),
}


@pytest.mark.parametrize("damage", VIDEO_DAMAGE)
def test_a_damaged_video_fails_its_recording_by_name_and_the_others_finish(tmp_path, walkout_cli, damage):
    spoil, message = VIDEO_DAMAGE[damage]
    folder = tmp_path / "recordings"
    for name in ("good1", "bad", "good2"):
        make_recording(folder / name)
    video = folder / "bad" / "videos" / "cam0.mp4"
    spoil(video)
    code, out, err = walkout_cli("run", folder, "--out", tmp_path / "out")
    assert code == 1
    assert f"{video}: {message}" in err
    statuses = {name: entry["status"] for name, entry in manifest(tmp_path / "out").items()}
    assert statuses == {"good1": "done", "bad": "failed", "good2": "done"}
    assert (tmp_path / "out" / "good2" / "events.csv").is_file() and not (tmp_path / "out" / "bad").exists()
    code, out, _ = walkout_cli("validate", folder / "bad")
    assert code == 1 and f"{video}: {message}" in out


def test_a_video_shorter_than_its_header_claims_is_run_with_a_warning(tmp_path, walkout_cli):
    recording = make_recording(tmp_path / "short", video="videos/cam0.avi")
    video = recording / "videos" / "cam0.avi"
    video.write_bytes(video.read_bytes()[: int(video.stat().st_size * 0.8)])  # AVI keeps its frame count up front
    code, _, err = walkout_cli("run", recording, "--out", tmp_path / "out")
    assert code == 0, err
    assert f"{video}: decoded 5 frames but the header claims 12 (truncated video?)" in err
    assert manifest(tmp_path / "out")["short"]["status"] == "done"


def _edit_store(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        store = json.loads(path.read_text())
        change(store)
        path.write_text(json.dumps(store))

    return edit


def _camera(store: dict) -> dict:
    return store["cameras"][0]


STORE_DAMAGE = {
    "not JSON": (lambda p: p.write_text('{"version": 1,'), "not valid JSON"),
    "not UTF-8": (lambda p: p.write_bytes(b'\xff\xfe{"version": 1}'), "not valid JSON"),
    "nested too deeply": (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "not valid JSON: nested too deeply"),
    "a list at the top": (lambda p: p.write_text("[]"), "top level must be a JSON object"),
    "version as text": (_edit_store(lambda s: s.update(version="1")), "unsupported version '1'"),
    "name as a number": (_edit_store(lambda s: s.update(name=5)), "name must be a string"),
    "cameras as an object": (_edit_store(lambda s: s.update(cameras={})), "cameras must be a list"),
    "camera as text": (_edit_store(lambda s: s.update(cameras=["cam0"])), "camera must be an object"),
    "camera id with a slash": (_edit_store(lambda s: _camera(s).update(id="../cam0")), "id must match"),
    "start time as text": (_edit_store(lambda s: _camera(s).update(start_timestamp="soon")),
                           "start_timestamp must be a number"),
    "start time as a boolean": (_edit_store(lambda s: _camera(s).update(start_timestamp=True)),
                                "start_timestamp must be a number"),
    "start time in milliseconds": (_edit_store(lambda s: _camera(s).update(start_timestamp=T0 * 1000)),
                                   "start_timestamp looks like milliseconds"),
    "zones as an object": (_edit_store(lambda s: _camera(s).update(zones={})), "zones must be a list"),
    "plates as text": (_edit_store(lambda s: _camera(s)["zones"][0].update(plates=["1"])),
                       "plates must be a list of integers"),
    "polygon as text": (_edit_store(lambda s: _camera(s)["zones"][0].update(polygon="square")),
                        "polygon must be a list of [x, y] number pairs"),
}


@pytest.mark.parametrize("damage", STORE_DAMAGE)
def test_a_bad_store_json_is_named_by_validate_and_fails_only_its_recording(tmp_path, walkout_cli, damage):
    spoil, message = STORE_DAMAGE[damage]
    folder = tmp_path / "recordings"
    make_recording(folder / "good")
    store = make_recording(folder / "bad") / "store.json"
    spoil(store)
    code, out, _ = walkout_cli("validate", folder / "bad")
    assert code == 1 and str(store) in out and message in out
    code, _, err = walkout_cli("run", folder, "--out", tmp_path / "out")
    assert code == 1 and str(store) in err and message in err
    assert manifest(tmp_path / "out")["good"]["status"] == "done"


def _write_weights(rows: list[str], name: str = "weights.csv") -> Callable[[Path], None]:
    def write(recording: Path) -> None:
        (recording / "weights.csv").unlink()
        text = "timestamp,shelf,plate,grams\n" + "\n".join(rows) + "\n"
        data = gzip.compress(text.encode()) if name.endswith(".gz") else text.encode()
        (recording / name).write_bytes(data)

    return write


def _replace(rows: list[str], index: int, row: str) -> list[str]:
    return rows[:index] + [row] + rows[index + 1:]


ROWS = weight_rows()
KILOGRAMS = [",".join([*r.split(",")[:3], f"{float(r.split(',')[3]) / 1000:.4f}"]) for r in ROWS]
MILLISECONDS = [",".join([f"{float(r.split(',')[0]) * 1000:.0f}", *r.split(",")[1:]]) for r in ROWS]

BAD_WEIGHTS = {
    "text in a number": (_write_weights(_replace(ROWS, 3, f"{T0 + 0.1:.3f},A1,2,heavy")),
                         "weights.csv, line 5, field 'grams': 'heavy' is not a number"),
    "an empty timestamp": (_write_weights(_replace(ROWS, 3, ",A1,2,2040.0")),
                           "weights.csv, line 5, field 'timestamp': an empty cell is not a number (required)"),
    "kilograms": (_write_weights(KILOGRAMS), "readings look like kilograms"),
    "milliseconds": (_write_weights(MILLISECONDS), "timestamps look like milliseconds; Unix seconds expected"),
    "a plate beyond any integer": (_write_weights(_replace(ROWS, 3, f"{T0 + 0.1:.3f},A1,1e20,5")),
                                   "field 'plate': plate 1e+20 is not an integer"),
    "an empty file": (lambda r: (r / "weights.csv").write_text(""), "weights.csv: file is empty (no header line)"),
    "binary junk": (lambda r: (r / "weights.csv").write_bytes(b"\x00\xff\xfe garbage \x89PNG"),
                    "weights.csv: not a readable weight log"),
    "a .gz that is not gzip": (lambda r: ((r / "weights.csv").unlink(), (r / "weights.csv.gz").write_text("plain text")),
                               "weights.csv.gz: not a readable weight log"),
}


@pytest.mark.parametrize("damage", BAD_WEIGHTS)
def test_an_unusable_weight_log_is_one_line_naming_file_and_problem(tmp_path, walkout_cli, damage):
    spoil, message = BAD_WEIGHTS[damage]
    recording = make_recording(tmp_path / "shop")
    spoil(recording)
    code, _, err = walkout_cli("fuse", recording, "--out", tmp_path / "fused")
    assert code == 2
    assert message in err and err.count("\n") == 1  # one line, no traceback
    assert not (tmp_path / "fused" / "receipts.json").exists()
    code, out, _ = walkout_cli("validate", recording)
    assert code == 1 and message in out


RECOVERABLE_WEIGHTS = {
    "duplicate and out-of-order rows": (
        _write_weights(ROWS[::-1] + ROWS[10:20]),
        ["plate A1/1: 5 duplicate timestamps (kept the first reading)",
         "plate A1/2: 39 rows out of time order (sorted)"],
    ),
    "huge and infinite readings": (
        _write_weights(_replace(_replace(ROWS, 4, f"{T0 + 0.2:.3f},A1,1,1e300"), 6, f"{T0 + 0.3:.3f},A1,1,inf")),
        ["plate A1/1: 2 out-of-range readings (beyond +-1e+06 g or infinite, dropped)"],
    ),
    "gzip with rows in any order": (_write_weights(ROWS[::-1], "weights.csv.gz"),
                                    ["plate A1/1: 39 rows out of time order (sorted)"]),
}


@pytest.mark.parametrize("case", RECOVERABLE_WEIGHTS)
def test_a_repairable_weight_log_is_repaired_and_each_repair_is_logged(tmp_path, walkout_cli, case):
    spoil, warnings = RECOVERABLE_WEIGHTS[case]
    recording = make_recording(tmp_path / "shop")
    spoil(recording)
    code, out, err = walkout_cli("fuse", recording, "--out", tmp_path / "fused")
    assert code == 0, err
    assert "1 weight event(s)" in out  # the 250 g pick is still found
    log = next(recording.glob("weights.*"))
    for warning in warnings:
        assert f"WARNING fusion.weights: {log}, {warning}" in err
    code, out, _ = walkout_cli("validate", recording)
    assert code == 0
    for warning in warnings:
        assert f"warning: {log}, {warning}" in out


def test_paths_with_spaces_and_non_ascii_letters_work_everywhere(tmp_path, walkout_cli):
    recording = make_recording(tmp_path / "магазин 1" / "запись №1")
    out = tmp_path / "выход 2"
    assert walkout_cli("validate", recording)[0] == 0
    code, stdout, err = walkout_cli("run", recording.parent, "--out", out)
    assert code == 0, err
    assert "запись №1" in stdout and (out / "запись №1" / "events.csv").is_file()
    assert manifest(out)["запись №1"]["status"] == "done"
    code, stdout, err = walkout_cli("fuse", recording, "--events", out / "запись №1", "--out", out / "запись №1")
    assert code == 0, err
    assert (out / "запись №1" / "receipts.json").is_file()


def test_a_recording_that_breaks_later_keeps_its_last_good_outputs(tmp_path, walkout_cli):
    folder = tmp_path / "recordings"
    for name in ("a", "b"):
        make_recording(folder / name)
    out = tmp_path / "out"
    assert walkout_cli("run", folder, "--out", out)[0] == 0
    kept = {p: p.read_bytes() for p in (out / "a").rglob("*") if p.is_file()}
    (folder / "a" / "videos" / "cam0.mp4").write_bytes(b"")  # a later copy of the video went wrong
    make_recording(folder / "c")
    code, stdout, _ = walkout_cli("run", folder, "--out", out)
    assert code == 1
    assert "1 done, 1 skipped (complete already), 1 failed" in stdout
    assert {p: p.read_bytes() for p in (out / "a").rglob("*") if p.is_file()} == kept
    entry = manifest(out)["a"]
    assert entry["status"] == "failed" and "video file is empty" in entry["error"]  # the folder is not current


def test_outputs_are_readable_by_others_as_the_umask_allows(tmp_path, walkout_cli):
    out = tmp_path / "out"
    assert walkout_cli("run", make_recording(tmp_path / "shop"), "--out", out)[0] == 0
    for path in [out / "manifest.json", *(p for p in (out / "shop").rglob("*") if p.is_file())]:
        assert path.stat().st_mode & stat.S_IRGRP, f"{path} is owner-only"
