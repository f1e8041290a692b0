"""Presence: tracks.csv + run.json + store.json read into where every shopper was (per camera, on the
shared clock), and, with floor positions, how far each stood from the changed plates. Who took what
from that evidence is :mod:`fusion.attribution`'s (see test_fusion_attribution.py)."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
from fusion_synth import T0, LogSpec, Step, make_log, write_events, write_recording

from formats.errors import FormatError
from formats.weight_events import WeightEvent
from fusion.attribution import NearestShopper
from fusion.pipeline import fuse_recording
from fusion.presence import Presence, read_presence

CHIPS, COLA, SOAP, BAR = "0002", "0001", "0004", "0003"
FPS = 10.0
# Shelf A1 seen by cam0 as four plates side by side, 100 px each from x = 100; B1 below it.
ZONES = [{"shelf": "A1", "plates": [p], "polygon": [[100 * p, 50], [100 * p + 100, 50], [100 * p + 100, 100],
                                                      [100 * p, 100]]} for p in range(1, 5)]
ZONES += [{"shelf": "B1", "plates": [1, 2], "polygon": [[100, 120], [300, 120], [300, 160], [100, 160]]}]
STORE = {"version": 1, "name": "rec", "cameras": [
    {"id": "cam0", "fps": FPS, "start_timestamp": T0, "width": 640, "height": 360, "video": "videos/cam0.mp4",
     "zones": ZONES}]}


def stands(shopper, x_centre, from_s, to_s, width=80.0, camera="cam0"):
    """tracks.csv rows: a shopper's box centred at x_centre from from_s to to_s (frames at FPS)."""
    frames = range(int(from_s * FPS), int(to_s * FPS) + 1)
    return [(f, shopper, x_centre - width / 2, 40.0, x_centre + width / 2, 300.0, 0.9, camera) for f in frames]


def write_tracks(path, *groups):
    rows = [row for group in groups for row in group]
    pd.DataFrame(rows, columns=["frame", "track_id", "x1", "y1", "x2", "y2", "confidence", "camera"]).to_csv(
        path, index=False)
    return path


def presence(tmp_path, *groups) -> Presence:
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    return read_presence(write_tracks(tmp_path / "tracks.csv", *groups), tmp_path / "store.json")


def weight_event(plates=(3,), start_s=5.0, end_s=5.6, delta_g=-120.0, shelf="A1", steps=()) -> WeightEvent:
    return WeightEvent(id="w0001", start=T0 + start_s, end=T0 + end_s, shelf=shelf, plates=plates,
                       delta_g=delta_g, plate_deltas_g=(delta_g,), confidence=1.0, steps=steps)


def reaching_tracks(path, *groups):
    """tracks.csv with the reach classifier's column: groups of (rows, probability)."""
    rows = [(*row, p) for group, p in groups for row in group]
    pd.DataFrame(rows, columns=["frame", "track_id", "x1", "y1", "x2", "y2", "confidence", "camera", "reaching"]).to_csv(
        path, index=False)
    return path


def test_positions_are_one_row_per_box_on_the_shared_clock_and_spans_one_row_per_zone_and_plate(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 3.0, 3.2), stands(2, 160, 3.1, 3.1))
    positions = seen.positions
    assert list(positions.columns) == ["camera", "shopper", "frame", "timestamp", "x1", "x2"]
    assert positions["shopper"].tolist() == ["1", "1", "1", "2"]
    assert positions["frame"].tolist() == [30, 31, 32, 31]
    assert positions["timestamp"].tolist() == pytest.approx([T0 + 3.0, T0 + 3.1, T0 + 3.2, T0 + 3.1])
    assert positions[["x1", "x2"]].iloc[0].tolist() == [310.0, 390.0]
    spans = seen.spans.set_index(["shelf", "plate"])
    assert spans.loc[("A1", 3), ["x_min", "x_max"]].tolist() == [300, 400]
    assert spans.loc[("B1", 1), ["x_min", "x_max"]].tolist() == spans.loc[("B1", 2), ["x_min", "x_max"]].tolist() == [
        100, 300]  # a zone over two plates spans each
    assert len(seen.spans) == 6
    assert seen.floor is None  # no shoppers.csv


def test_the_reaching_column_is_read_as_probabilities_and_blank_is_not_classified(tmp_path):
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    path = reaching_tracks(tmp_path / "tracks.csv", (stands(1, 350, 3.0, 3.1), 0.9), (stands(2, 160, 3.0, 3.0), None))
    reaching = read_presence(path, tmp_path / "store.json").positions["reaching"].tolist()
    assert reaching[:2] == [0.9, 0.9] and pd.isna(reaching[2])


@pytest.mark.parametrize("value", ["yes", "1.5", "-0.1"])
def test_a_reaching_value_that_is_not_a_probability_is_refused_naming_the_file(tmp_path, value):
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    path = reaching_tracks(tmp_path / "tracks.csv", (stands(1, 350, 3.0, 3.2), value))
    with pytest.raises(FormatError, match="reaching is not a probability") as error:
        read_presence(path, tmp_path / "store.json")
    assert "tracks.csv" in str(error.value)
    assert error.value.line == 2


@pytest.mark.parametrize(("tracks", "words"), [
    ("frame,track_id,x1\n", "missing column(s)"),
    ("frame,track_id,x1,y1,x2,y2,confidence,camera\nten,1,0,0,10,10,0.9,cam0\n", "line 2: frame is not a number"),
    ("frame,track_id,x1,y1,x2,y2,confidence,camera\n1,1,0,0,10,10,0.9,cam9\n", "cam9 not in"),
])
def test_a_malformed_tracks_file_is_refused_naming_the_file(tmp_path, tracks, words):
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    (tmp_path / "tracks.csv").write_text(tracks)
    with pytest.raises(FormatError, match="tracks.csv") as caught:
        read_presence(tmp_path / "tracks.csv", tmp_path / "store.json")
    assert words in str(caught.value)


def write_hands(path, rows):
    """hands.csv rows: (frame, owner track, sku) in cam0; '' = an empty hand."""
    pd.DataFrame([(f, o, 10.0, 20.0, -1, sku, int(bool(sku)), 0.9, "cam0") for f, o, sku in rows],
                 columns=["frame", "owner", "x", "y", "zone", "sku", "count", "sku_confidence", "camera"]).to_csv(
        path, index=False)


def test_hands_beside_the_tracks_become_each_shopper_s_held_items_on_the_shared_clock(tmp_path):
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    rows = [(*row, "7") for row in stands(1, 350, 3.0, 4.0)] + [(*row, "8") for row in stands(2, 150, 3.0, 4.0)]
    pd.DataFrame(rows, columns=["frame", "track_id", "x1", "y1", "x2", "y2", "confidence", "camera", "shopper"]).to_csv(
        tmp_path / "tracks.csv", index=False)
    write_hands(tmp_path / "hands.csv", [(35, 1, CHIPS), (36, 2, ""), (37, 5, COLA)])  # track 5 was never tracked
    held = read_presence(tmp_path / "tracks.csv", tmp_path / "store.json").held
    assert held["shopper"].tolist() == ["7", "8"]  # the store-level shopper of each hand's owner
    assert held["sku"].tolist() == [CHIPS, ""]
    assert held["timestamp"].tolist() == pytest.approx([T0 + 3.5, T0 + 3.6])


def test_without_hands_csv_presence_has_no_held_items_and_a_bad_one_is_refused_naming_it(tmp_path):
    assert presence(tmp_path, stands(1, 350, 3.0, 4.0)).held is None
    (tmp_path / "hands.csv").write_text("frame,owner,sku,camera\n35,one,0002,cam0\n")
    with pytest.raises(FormatError, match="hands.csv") as caught:
        read_presence(tmp_path / "tracks.csv", tmp_path / "store.json")
    assert caught.value.line == 2 and "owner" in str(caught.value)


def test_a_store_without_cameras_is_refused_naming_it(tmp_path):
    (tmp_path / "store.json").write_text("{}")
    with pytest.raises(FormatError, match="store.json"):
        read_presence(write_tracks(tmp_path / "tracks.csv", stands(1, 350, 0, 1)), tmp_path / "store.json")


def test_frame_rates_come_from_run_json_else_from_store_json(tmp_path):
    store = {**STORE, "cameras": [{k: v for k, v in STORE["cameras"][0].items() if k != "fps"}]}
    (tmp_path / "store.json").write_text(json.dumps(store))
    tracks = write_tracks(tmp_path / "tracks.csv", stands(1, 350, 1.0, 1.0))  # frame 10
    with pytest.raises(FormatError, match="no frame rate for camera cam0"):
        read_presence(tracks, tmp_path / "store.json")
    (tmp_path / "run.json").write_text(json.dumps({"cameras": {"cam0": {"fps": 5.0, "frames": 100}}}))
    positions = read_presence(tracks, tmp_path / "store.json").positions
    assert positions["timestamp"].tolist() == [T0 + 2.0]
    assert positions["frame"].tolist() == [10]
    # run.json wins over store.json's own rate
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    assert read_presence(tracks, tmp_path / "store.json").positions["timestamp"].tolist() == [T0 + 2.0]
    (tmp_path / "run.json").unlink()
    assert read_presence(tracks, tmp_path / "store.json").positions["timestamp"].tolist() == [T0 + 1.0]


def test_each_camera_keeps_its_own_start_and_frame_rate_on_the_shared_clock(tmp_path):
    late = {**STORE["cameras"][0], "id": "cam1", "fps": 5.0, "start_timestamp": T0 + 0.5, "video": "videos/cam1.mp4"}
    (tmp_path / "store.json").write_text(json.dumps({**STORE, "cameras": [STORE["cameras"][0], late]}))
    tracks = write_tracks(tmp_path / "tracks.csv", stands(1, 350, 1.0, 1.0), stands(2, 350, 1.0, 1.0, camera="cam1"))
    positions = read_presence(tracks, tmp_path / "store.json").positions
    # frame 10 of each: cam0 at 10 fps from T0, cam1 at 5 fps from T0 + 0.5 s
    assert positions["timestamp"].tolist() == [T0 + 1.0, T0 + 0.5 + 2.0]


def test_with_floor_positions_each_shopper_has_their_distance_to_the_changed_plates_in_metres(tmp_path):
    from formats.store import Box, Shelf

    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0), stands(2, 330, 3.0, 7.0))
    plate3 = Box((0.75, 0.25, 0.3), (0.25, 0.5, 0.4))  # plate 3 of A1: x 0.625-0.875 m, front at y = 0
    shelf = Shelf("A1", Box((0.5, 0.25, 0.3), (1.0, 0.5, 0.4)), ((3, plate3),))
    times = [T0 + 3.0 + 0.1 * k for k in range(40)]
    floor = pd.DataFrame({"timestamp": times * 2, "shopper": ["1"] * 40 + ["2"] * 40,
                          "x": [0.75] * 40 + [1.4] * 40, "y": [-0.4] * 40 + [-0.3] * 40})
    calibrated = replace(seen, floor=floor, shelves=(shelf,))
    distance = calibrated.distance_m(weight_event(), 1.0, 0.5)
    assert distance["1"] == pytest.approx(0.4)
    assert distance["2"] == pytest.approx((0.525**2 + 0.3**2) ** 0.5)
    # Only the time around the change counts: long after it, nobody was on the floor.
    assert calibrated.distance_m(weight_event(start_s=15.0, end_s=15.6), 1.0, 0.5).empty
    # Without floor positions, or for a shelf without a box, there is no distance.
    assert seen.distance_m(weight_event(), 1.0, 0.5).empty
    assert calibrated.distance_m(weight_event(shelf="B1"), 1.0, 0.5).empty


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    steps = [Step("A1", 3, 5.3, -120.0), Step("A1", 3, 12.3, +120.0), Step("B1", 1, 16.3, -200.0)]
    recording = write_recording(root / "rec", make_log(LogSpec(duration_s=20.0, steps=steps, seed=9)))
    (recording / "store.json").write_text(json.dumps(STORE))
    return recording


def test_fusion_reads_the_runs_tracks_and_credits_a_return_to_a_shopper_holding_the_product(store, tmp_path):
    """Shopper 1 stands at A1 plate 3 when the chips go; when they come back shopper 2 stands centred
    in front of the plate and 1 beside it, but only 1 holds chips: the return is 1's. 2 is at B1
    when the soap goes. (Nearest-shopper fallback: no attribution model.)"""
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [])
    write_tracks(run / "tracks.csv", stands(1, 350, 3.0, 7.0), stands(2, 350, 10.5, 14.0),
                 stands(1, 300, 10.5, 14.0), stands(2, 200, 15.0, 18.0))
    result = fuse_recording(store, run, tmp_path / "out", model=NearestShopper())
    lines = sorted((x.timestamp - T0, x.status, x.shopper, x.sku, x.action, x.counted) for x in result.lines)
    assert [line[1:] for line in lines] == [
        ("reached", "1", CHIPS, "pick", True), ("reached", "1", CHIPS, "return", True),
        ("reached", "2", SOAP, "pick", True)]
    assert result.receipts["shoppers"]["1"]["items"] == {}
    assert result.receipts["shoppers"]["2"]["items"] == {SOAP: 1}


def test_fusion_without_tracks_leaves_the_same_changes_unattributed(store, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [])
    result = fuse_recording(store, run, tmp_path / "out", model=NearestShopper())
    assert [(x.status, x.shopper, x.probability) for x in result.lines] == [("unattributed", None, None)] * 3
