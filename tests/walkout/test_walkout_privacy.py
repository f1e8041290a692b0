"""Privacy by design: no biometric identity in the outputs, and retention / deletion (`walkout purge`).

One tiny rendered recording is run through the real pipeline (detections from its truth boxes,
``privacy_fixture``) and fused once per module; each test works on a copy of that run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from walkout import stages
from walkout.cli import main
from walkout.config import PipelineConfig
from walkout.manifest import load_manifest
from walkout.pipeline import RunOptions, run_batch
from walkout.purge import PURGE_LOG, parse_duration

from .privacy_fixture import output_bytes, render_tiny, truth_models
from .walkout_fakes import FakeModels, make_recording

DESCRIPTOR_NAME = re.compile(r"desc|hist|embed|appear|feature", re.IGNORECASE)
DECIMAL = re.compile(rb"(?<![\d.])-?\d*\.\d{5,}")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(recording, OUT folder, run folder, the colour descriptors the pipeline computed in memory)."""
    root = tmp_path_factory.mktemp("privacy")
    recording = render_tiny(root)
    seen: list[np.ndarray] = []
    describe = stages.describe

    def spy(frame, xyxy, config):
        descriptors = describe(frame, xyxy, config)
        seen.append(descriptors.copy())
        return descriptors

    stages.describe = spy
    try:
        report = run_batch([recording], root / "out", PipelineConfig(), RunOptions(workers=1),
                           load_models=truth_models(recording))
    finally:
        stages.describe = describe
    assert report.count("done") == 1, report
    run_dir = root / "out" / recording.name
    assert main(["-q", "fuse", str(recording), "--events", str(run_dir), "--out", str(run_dir)]) == 0
    return recording, root / "out", run_dir, np.vstack(seen)


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A copy of the module's OUT folder (manifest and run folder), file times kept."""
    _, out, run_dir, _ = tiny_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy, copy_function=shutil.copy2)
    manifest = json.loads((copy / "manifest.json").read_text())  # the manifest names the original paths
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy, copy / run_dir.name


# ---------------------------------------------------------------------------------- no biometric identity


def _json_items(payload, key=""):
    """(key, value) of every JSON node."""
    yield key, payload
    if isinstance(payload, dict):
        for k, v in payload.items():
            yield from _json_items(v, str(k))
    elif isinstance(payload, list):
        for v in payload:
            yield from _json_items(v, key)


def test_the_pipeline_computes_colour_descriptors_in_memory(tiny_run):
    *_, descriptors = tiny_run
    assert descriptors.shape[1] == 16 * 4  # reid hue_bins x saturation_bins
    assert len(descriptors) >= 100  # one per tracked box
    assert np.allclose(descriptors.sum(axis=1), 1.0, atol=1e-4)


def test_no_output_names_a_descriptor_column_or_key(tiny_run):
    _, out, _, _ = tiny_run
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".csv":
            header = path.read_text().splitlines()[0].split(",")
            assert not [c for c in header if DESCRIPTOR_NAME.search(c)], path
            assert len(header) < 64, f"{path}: as many columns as a descriptor has bins"
        elif path.suffix == ".json":
            items = list(_json_items(json.loads(path.read_text())))
            # A receipt line's evidence names the attribution feature ({"feature": "offset", ...}): a
            # word, not a descriptor; any other key that sounds like one fails.
            assert all(isinstance(v, str) for k, v in items if k == "feature"), path
            keys = {k for k, _ in items if k and k != "feature"}
            assert not [k for k in keys if DESCRIPTOR_NAME.search(k)], path


def test_no_output_holds_a_float_array_of_descriptor_length(tiny_run):
    _, out, _, descriptors = tiny_run
    length = descriptors.shape[1]
    for path in sorted(out.rglob("*.json")):
        for key, value in _json_items(json.loads(path.read_text())):
            if isinstance(value, list) and len(value) >= length:
                assert not all(isinstance(v, float) for v in value), f"{path}: {key} is {len(value)} floats"


def test_no_descriptor_value_appears_in_any_output_file(tiny_run):
    _, out, _, descriptors = tiny_run
    files = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    written = set()
    for data in files.values():
        written |= {m.decode() for m in DECIMAL.findall(data)}
    # Values a histogram of a real box has (not 0, not the uniform 1/64 of an empty box), as text
    # with 5 to 10 decimals, the way a CSV or JSON writer would print them.
    values = np.unique(descriptors[(descriptors > 0) & ~np.isclose(descriptors, 1 / 64)])
    assert len(values) > 50
    found = [v for v in values.astype(float)
             if {f"{v:.{k}f}" for k in range(5, 11)} & written or repr(v) in written or str(np.float32(v)) in written]
    assert found == []
    # ... nor as binary float32 / float64 (a pickle, .npy or parquet in the folder).
    rows = descriptors[(descriptors > 0).sum(axis=1) >= 4][:200]
    for row in rows:
        window = row[row > 0][:4]
        for raw in (window.astype(np.float32).tobytes(), window.astype(np.float64).tobytes()):
            assert not [p for p, data in files.items() if raw in data]


# ---------------------------------------------------------------------------------- walkout purge --shopper


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@pytest.mark.parametrize(("shopper", "other", "rewritten"), [
    # Shopper 1 picked (vision saw it): events and timeline too. Shopper 2's pick was missed by
    # vision and billed by fusion from the weights ("reached"): a discrepancy line.
    ("1", "2", {"tracks.csv", "tracks/cam0.txt", "hands.csv", "reaches.csv", "events.csv", "timeline.json",
                "receipts.json"}),
    ("2", "1", {"tracks.csv", "tracks/cam0.txt", "hands.csv", "reaches.csv", "receipts.json", "discrepancies.csv"}),
])
def test_purge_shopper_removes_their_rows_and_keeps_every_other_byte(run_copy, shopper, other, rewritten):
    out, run_dir = run_copy
    (run_dir / "annotated").mkdir()
    (run_dir / "annotated" / "cam0.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    cv2.imwrite(str(run_dir / "events_contact_sheet.png"), np.zeros((8, 8, 3), np.uint8))
    before = output_bytes(run_dir)
    stats = {p: (run_dir / p).stat().st_mtime_ns for p in before}

    assert main(["purge", str(run_dir), "--shopper", shopper]) == 0
    after = output_bytes(run_dir)

    # Pictures show every shopper: deleted (walkout annotate draws them again).
    assert "annotated/cam0.mp4" not in after and "events_contact_sheet.png" not in after
    changed = {p for p in before if p in after and after[p] != before[p]}
    assert rewritten <= changed
    # Every other file byte-identical (the same file: hard-linked, same modification time).
    for path in set(before) - changed - {"annotated/cam0.mp4", "events_contact_sheet.png"}:
        assert after[path] == before[path], path
        assert (run_dir / path).stat().st_mtime_ns == stats[path], path
    # Rewritten tables: exactly the other rows, each byte for byte, in order, header first.
    for path in changed - {"receipts.json", "timeline.json"}:
        old, new = _lines(before[path]), _lines(after[path])
        assert [line for line in old if line in new] == new and len(new) < len(old), path
        if path.endswith(".csv"):
            assert new[0] == old[0]
            rows = list(csv.DictReader(io.StringIO(after[path].decode())))
            if not rows:  # the shopper's were the only rows (events.csv: one pick)
                continue
            column = next(c for c in ("shopper", "track_id", "owner") if c in rows[0])
            assert shopper not in {r[column] for r in rows}, path
            assert other in {r[column] for r in rows} or path in ("events.csv", "discrepancies.csv"), path
    assert [r for r in after["tracks/cam0.txt"].decode().splitlines() if r.split(",")[1] == shopper] == []
    receipts, old_receipts = json.loads(after["receipts.json"]), json.loads(before["receipts.json"])
    assert set(receipts["shoppers"]) == {other}
    assert receipts["shoppers"][other] == old_receipts["shoppers"][other]
    assert receipts["unattributed"] == old_receipts["unattributed"]
    assert shopper not in {s["shopper"] for s in json.loads(after["timeline.json"])["shoppers"]}


def test_purge_shopper_records_what_was_purged_not_the_data(run_copy):
    out, run_dir = run_copy
    assert main(["purge", str(run_dir), "--shopper", "2"]) == 0
    record = json.loads((run_dir / PURGE_LOG).read_text())["purges"][-1]
    assert record["kind"] == "shopper" and record["shopper"] == "2"
    assert abs(record["at"] - time.time()) < 60
    assert record["rewritten"]["tracks.csv"] > 0 and "hands.csv" in record["rewritten"]
    text = (run_dir / PURGE_LOG).read_text()
    assert "x1" not in text and "012010" not in text  # no rows, no products


def test_a_purged_run_is_not_redone_by_the_next_run(run_copy, tiny_run):
    recording, *_ = tiny_run
    out, run_dir = run_copy
    assert main(["purge", str(run_dir), "--shopper", "2"]) == 0
    purged = output_bytes(run_dir)
    report = run_batch([recording], out, PipelineConfig(), RunOptions(workers=1), load_models=truth_models(recording))
    assert [r.status for r in report.recordings] == ["skipped"]
    assert output_bytes(run_dir) == purged
    assert "purge_log.json" in load_manifest(out).recordings[run_dir.name].outputs


def test_a_purge_is_not_undone_by_the_next_fuse(run_copy, tiny_run):
    """`walkout fuse` over a runs folder skips what it fused before; a purge since then is not a change
    it should redo (re-fusing would bill the purged shopper's weights to someone again)."""
    recording, *_ = tiny_run
    out, run_dir = run_copy
    assert main(["-q", "fuse", str(recording), "--events", str(out)]) == 0  # a fuse record in the manifest
    assert main(["purge", str(run_dir), "--shopper", "2"]) == 0
    purged = output_bytes(run_dir)
    assert main(["-q", "fuse", str(recording), "--events", str(out)]) == 0
    assert output_bytes(run_dir) == purged
    assert load_manifest(out).recordings[run_dir.name].fuse["status"] == "done"


def test_purge_of_an_unknown_shopper_is_a_clear_error_and_changes_nothing(run_copy, capsys):
    out, run_dir = run_copy
    before = output_bytes(out)
    assert main(["purge", str(run_dir), "--shopper", "99"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no shopper '99'" in err and str(run_dir) in err and "shoppers: 1, 2" in err
    assert output_bytes(out) == before


def test_purge_dry_run_lists_the_files_and_changes_nothing(run_copy, capsys):
    out, run_dir = run_copy
    before = output_bytes(out)
    assert main(["purge", str(run_dir), "--shopper", "2", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "rewrite tracks.csv" in printed and "rewrite hands.csv" in printed and "would be removed" in printed
    assert output_bytes(out) == before


def test_purge_that_fails_half_way_changes_nothing(run_copy, monkeypatch):
    out, run_dir = run_copy
    before = output_bytes(out)

    def broken(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("walkout.purge._link_or_copy", broken)
    with pytest.raises(OSError):
        from walkout.purge import purge_shopper

        purge_shopper(run_dir, "2")
    assert output_bytes(out) == before
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(f".{run_dir.name}")) == []


# ---------------------------------------------------------------------------------- walkout purge --older-than


@pytest.mark.parametrize(("text", "seconds"), [("12h", 12 * 3600), ("30d", 30 * 86400), ("2w", 14 * 86400),
                                               ("90m", 5400), ("1.5d", 1.5 * 86400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "30x", "d30", "-1d", "thirty days"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


@pytest.fixture
def two_runs(tmp_path):
    """An OUT folder of two recordings run with the fake models; 'old' finished 40 days ago."""
    recordings = [make_recording(tmp_path / "recordings" / name) for name in ("old", "new")]
    out = tmp_path / "out"
    report = run_batch(recordings, out, PipelineConfig(), RunOptions(workers=1), load_models=FakeModels)
    assert report.count("done") == 2
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["recordings"]["old"]["timings"]["finished"] = time.time() - 40 * 86400
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_purge_older_than_deletes_old_run_folders_and_their_manifest_entries(two_runs, capsys):
    out = two_runs
    kept = output_bytes(out / "new")
    assert main(["purge", str(out), "--older-than", "30d"]) == 0
    assert f"deleted {out / 'old'}" in capsys.readouterr().out
    assert not (out / "old").exists()
    assert output_bytes(out / "new") == kept
    assert set(load_manifest(out).recordings) == {"new"}
    record = json.loads((out / PURGE_LOG).read_text())["purges"][-1]
    assert record["kind"] == "retention" and [d["folder"] for d in record["deleted"]] == ["old"]
    assert record["older_than_s"] == 30 * 86400


def test_purge_older_than_dry_run_deletes_nothing(two_runs, capsys):
    before = output_bytes(two_runs)
    assert main(["purge", str(two_runs), "--older-than", "30d", "--dry-run"]) == 0
    assert f"would delete {two_runs / 'old'}" in capsys.readouterr().out
    assert output_bytes(two_runs) == before


def test_purge_older_than_uses_file_times_for_unlisted_folders(two_runs):
    unlisted = two_runs / "copied"
    shutil.copytree(two_runs / "new", unlisted)
    month_ago = time.time() - 31 * 86400
    for path in unlisted.rglob("*"):
        os.utime(path, (month_ago, month_ago))
    main(["purge", str(two_runs), "--older-than", "30d"])
    assert not unlisted.exists() and (two_runs / "new").is_dir()


def test_purge_with_a_bad_duration_is_a_clear_error(two_runs, capsys):
    before = output_bytes(two_runs)
    assert main(["purge", str(two_runs), "--older-than", "30x"]) == 2
    assert "bad duration '30x'" in capsys.readouterr().err
    assert output_bytes(two_runs) == before


def test_purge_needs_exactly_one_of_older_than_and_shopper(two_runs, capsys):
    assert main(["purge", str(two_runs)]) == 2
    assert main(["purge", str(two_runs / "new"), "--older-than", "1d", "--shopper", "1"]) == 2


# ---------------------------------------------------------------------------------- run --annotate


def test_run_annotate_no_anonymize_is_recorded_in_run_json_and_redone_when_anonymised(tmp_path, caplog):
    recording = make_recording(tmp_path / "rec")
    out = tmp_path / "out"
    with caplog.at_level("WARNING"):
        report = run_batch([recording], out, PipelineConfig(), RunOptions(workers=1, annotate=True, anonymize=False),
                           load_models=FakeModels)
    assert report.count("done") == 1
    assert "anonymisation is OFF" in caplog.text
    info = json.loads((out / "rec" / "run.json").read_text())
    assert info["pictures"] == {"anonymized": False, "files": ["annotated/cam0.mp4", "events_contact_sheet.png"]}
    assert load_manifest(out).recordings["rec"].options["anonymized"] is False
    assert any("NOT anonymised" in w for w in report.recordings[0].warnings)
    # Anonymised pictures asked for next: the recording is redone, never left showing faces.
    report = run_batch([recording], out, PipelineConfig(), RunOptions(workers=1, annotate=True), load_models=FakeModels)
    assert [r.status for r in report.recordings] == ["done"]
    assert json.loads((out / "rec" / "run.json").read_text())["pictures"]["anonymized"] is True


def test_run_annotate_anonymises_by_default(tmp_path):
    recording = make_recording(tmp_path / "rec")
    run_batch([recording], tmp_path / "out", PipelineConfig(), RunOptions(workers=1, annotate=True),
              load_models=FakeModels)
    assert json.loads((tmp_path / "out" / "rec" / "run.json").read_text())["pictures"]["anonymized"] is True
    assert Path(tmp_path / "out" / "rec" / "annotated" / "cam0.mp4").is_file()


def test_track_looks_stay_in_the_process_that_made_them(tiny_run, tmp_path, monkeypatch):
    """Each track's look (its mean colours, for joining shoppers across cameras) and each box's colours
    are made in memory and dropped when the recording's shoppers are joined: the result handed back (to
    the caller, or from a worker process or a Ray task) carries none."""
    from walkout.pipeline import process_recording

    recording, *_ = tiny_run
    made: list[dict] = []
    track_looks = stages.track_looks

    def spy(*args):
        looks = track_looks(*args)
        made.append(looks)
        return looks

    monkeypatch.setattr(stages, "track_looks", spy)
    kept: list = []  # what benchmarks/rejoin.py's cache is handed, before the join
    result = process_recording(recording, tmp_path / "out", truth_models(recording)(PipelineConfig()), PipelineConfig(),
                               keep_cameras=lambda path, results: kept.extend(results))
    assert made and any(made[0]), "the pipeline made no looks: nothing was checked"
    assert all(camera.descriptors is not None and len(camera.descriptors) == len(camera.tracks) for camera in kept)
    assert result.ok and result.cameras
    assert all(camera.looks == {} for camera in result.cameras)
    assert all(camera.descriptors is None for camera in result.cameras)


def test_learnt_embeddings_of_shoppers_stay_in_memory_too(tmp_path):
    """``[shoppers] look = "embedding"``: every sampled box is embedded (vision.embedding) and each track
    gets the mean as its look, which reaches the store join (the keep hook sees it) and no output."""
    import dataclasses

    import torch

    from vision.embedding import build_net, load_embedder, save_embedder
    from vision.shoppers import ShopperConfig
    from walkout.pipeline import process_recording

    torch.manual_seed(0)
    save_embedder(tmp_path / "reid.pt", build_net(2, 8, (4, 4, 4)).eval(), np.full(3, 0.5), np.full(3, 0.25), 8,
                  (4, 4, 4), {})
    embedder = load_embedder(tmp_path / "reid.pt")
    seen: list[np.ndarray] = []

    class Spy:
        dim = embedder.dim

        def embed(self, frame, xyxy):
            vectors = embedder.embed(frame, xyxy)
            seen.append(vectors.copy())
            return vectors

    from mockstore.scenario import parse_scenario
    from mockstore.writer import write_recording
    from tests.vision.test_vision_embedding import small_store
    from vision.association import DEFAULT_MODEL

    recording = write_recording(parse_scenario(small_store(1), source="store.yaml"), tmp_path / "store").path
    association = json.loads(DEFAULT_MODEL.read_text()) | {"look": "embedding"}  # the join's model, fitted on them
    (tmp_path / "association.json").write_text(json.dumps(association))
    config = dataclasses.replace(PipelineConfig(), shoppers=ShopperConfig(
        look="embedding", look_model=str(tmp_path / "reid.pt"), model=str(tmp_path / "association.json")))
    models = truth_models(recording)(config)  # cam0's truth boxes in every camera: boxes where the pixels are
    models.embedder = Spy()
    kept = {}
    result = process_recording(recording, tmp_path / "out", models, config,
                               keep_cameras=lambda path, results: kept.update(looks=[r.looks for r in results]))
    embedded = np.vstack(seen)
    assert len(embedded) >= 20 and np.allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)
    looks = [v for camera in kept["looks"] for v in camera.values()]
    assert looks and all(np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5) for v in looks)
    assert result.ok and len(result.cameras) == 4
    assert all(not r.looks for r in result.cameras)
    files = {p: p.read_bytes() for p in sorted((tmp_path / "out").rglob("*")) if p.is_file()}
    written = set()
    for data in files.values():
        written |= {m.decode().lstrip("-") for m in DECIMAL.findall(data)}
    values = np.unique(np.abs(embedded[np.abs(embedded) > 1e-3]))
    assert not [v for v in values.astype(float) if {f"{v:.{k}f}" for k in range(5, 11)} & written]
    for row in embedded[:100]:
        for raw in (row[:4].astype(np.float32).tobytes(), row[:4].astype(np.float64).tobytes()):
            assert not [p for p, data in files.items() if raw in data]


def test_embeddings_for_the_trackers_gate_stay_in_memory_and_the_looks_stay_colours(tmp_path):
    """``[tracking] reid_gate``: every shopper box of a store's cameras is embedded for the tracker's
    gate only; the tracks' looks for the join stay colour histograms, and no embedding reaches an output."""
    import dataclasses

    import torch

    from mockstore.scenario import parse_scenario
    from mockstore.writer import write_recording
    from tests.vision.test_vision_embedding import small_store
    from vision.embedding import build_net, load_embedder, save_embedder
    from vision.shoppers import ShopperConfig
    from vision.tracking import TrackingConfig
    from walkout.pipeline import process_recording

    torch.manual_seed(0)
    save_embedder(tmp_path / "reid.pt", build_net(2, 8, (4, 4, 4)).eval(), np.full(3, 0.5), np.full(3, 0.25), 8,
                  (4, 4, 4), {})
    config = dataclasses.replace(PipelineConfig(), tracking=TrackingConfig(reid_gate=0.11),
                                 shoppers=ShopperConfig(look_model=str(tmp_path / "reid.pt")))
    recording = write_recording(parse_scenario(small_store(1), source="store.yaml"), tmp_path / "store").path
    models = truth_models(recording)(config)
    seen: list[np.ndarray] = []
    embedder = load_embedder(tmp_path / "reid.pt")

    class Spy:
        dim = embedder.dim

        def embed(self, frame, xyxy):
            seen.append(embedder.embed(frame, xyxy))
            return seen[-1].copy()

    models.embedder = Spy()
    kept = {}
    result = process_recording(recording, tmp_path / "out", models, config,
                               keep_cameras=lambda path, results: kept.update(looks=[r.looks for r in results]))
    assert result.ok and len(np.vstack(seen)) >= 20
    looks = [v for camera in kept["looks"] for v in camera.values() if v is not None]
    assert looks and all(len(v) == 64 and v.sum() == pytest.approx(1.0, abs=1e-4) for v in looks)
    written = set()
    for data in (p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()):
        written |= {m.decode().lstrip("-") for m in DECIMAL.findall(data)}
    values = np.unique(np.abs(np.vstack(seen)[np.abs(np.vstack(seen)) > 1e-3]))
    assert not [v for v in values.astype(float) if {f"{v:.{k}f}" for k in range(5, 11)} & written]
