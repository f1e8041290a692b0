"""Presence: a weight change vision saw no event for goes to the shopper standing in front of the
plates; a return goes to a shopper holding the product."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pandas as pd
import pytest
from fusion_synth import T0, LogSpec, Step, make_log, write_events, write_recording

from formats.errors import FormatError
from formats.receipts import ReceiptLine
from formats.weight_events import WeightEvent
from fusion.pipeline import fuse_recording
from fusion.presence import Presence, PresenceConfig, in_front, read_presence, shoppers_in_front
from fusion.reaches import REACH_COLUMNS
from fusion.reconcile import check_shopper_in_front, give_returns_to_holders, who_changed

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


def weight_event(plates=(3,), start_s=5.0, end_s=5.6, delta_g=-120.0, shelf="A1") -> WeightEvent:
    return WeightEvent(id="w0001", start=T0 + start_s, end=T0 + end_s, shelf=shelf, plates=plates,
                       delta_g=delta_g, plate_deltas_g=(delta_g,), confidence=1.0)


def test_the_shopper_standing_in_front_of_the_changed_plate_gets_it(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0), stands(2, 160, 3.0, 7.0))  # plate 3 is x 300-400
    got = in_front(weight_event(), seen)
    assert got is not None and got.shopper == "1"
    assert "in front of A1 plates 3" in got.reason


def test_nobody_overlapping_the_plates_gets_nothing(tmp_path):
    seen = presence(tmp_path, stands(1, 150, 3.0, 7.0))  # box 110-190, plate 3 at 300-400
    assert in_front(weight_event(), seen) is None


def test_only_the_time_of_the_change_counts(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 0.0, 2.0), stands(2, 270, 3.0, 7.0))  # 1 left 3 s before
    assert in_front(weight_event(), seen).shopper == "2"  # 2's box 230-310 overlaps plate 3...
    assert in_front(weight_event(plates=(4,)), seen) is None  # ...but not plate 4


def test_among_limits_the_shoppers_considered(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0), stands(2, 300, 3.0, 7.0))
    assert in_front(weight_event(), seen).shopper == "1"
    assert in_front(weight_event(), seen, among={"2"}).shopper == "2"


def reaching_tracks(path, *groups):
    """tracks.csv with the reach classifier's column: groups of (rows, probability)."""
    rows = [(*row, p) for group, p in groups for row in group]
    pd.DataFrame(rows, columns=["frame", "track_id", "x1", "y1", "x2", "y2", "confidence", "camera", "reaching"]).to_csv(
        path, index=False)
    return path


def test_a_shopper_reaching_while_the_weight_changes_beats_a_closer_one_standing_idle(tmp_path):
    """The reach classifier's column: among shoppers in front of the plates, those reaching during the
    change (mean of their 3 highest probabilities >= 0.5) come first; the reason says so."""
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    idle_close, reaching_far = stands(1, 350, 3.0, 7.0), stands(2, 300, 3.0, 7.0)  # plate 3 is x 300-400
    seen = read_presence(reaching_tracks(tmp_path / "tracks.csv", (idle_close, 0.1), (reaching_far, 0.9)),
                         tmp_path / "store.json")
    got = in_front(weight_event(), seen)
    assert got.shopper == "2" and "reaching as the weight changed (p 0.90)" in got.reason
    # Reaching long before the change does not count.
    early = [row for row in reaching_far if row[0] < 40]
    late = [row for row in reaching_far if row[0] >= 40]
    seen = read_presence(reaching_tracks(tmp_path / "tracks.csv", (idle_close, 0.1), (early, 0.9), (late, 0.1)),
                         tmp_path / "store.json")
    assert in_front(weight_event(), seen).shopper == "1"
    # Nobody reaching, or no column at all: the closest, as before.
    seen = read_presence(reaching_tracks(tmp_path / "tracks.csv", (idle_close, 0.2), (reaching_far, 0.3)),
                         tmp_path / "store.json")
    assert in_front(weight_event(), seen).shopper == "1"
    # Frames the classifier did not see (blank) are not evidence either way.
    seen = read_presence(reaching_tracks(tmp_path / "tracks.csv", (idle_close, None), (reaching_far, 0.8)),
                         tmp_path / "store.json")
    assert in_front(weight_event(), seen).shopper == "2"


def test_of_two_shoppers_reaching_the_one_whose_reach_is_timed_with_the_change_gets_it(tmp_path):
    """Two shoppers in front both reach within the window around the change, one after the other: the
    hand is at the product in the middle of a reach, so the shopper whose reach has its middle within
    the change (5.0-5.6 s) comes first even though the other stands closer."""
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    close, far = stands(1, 350, 3.0, 8.0), stands(2, 300, 3.0, 8.0)  # plate 3 is x 300-400

    def reach(rows, from_s, to_s):
        return [(row, 0.95 if from_s <= row[0] / FPS <= to_s else 0.05) for row in rows]

    def write(*groups):
        rows = [([row], p) for group in groups for row, p in group]
        return read_presence(reaching_tracks(tmp_path / "tracks.csv", *rows), tmp_path / "store.json")

    # 1 (closer) reaches 5.5-6.7 s, middle 6.1 s, 0.5 s after the change; 2 reaches 4.7-5.9, middle 5.3.
    seen = write(reach(close, 5.5, 6.7), reach(far, 4.7, 5.9))
    got = in_front(weight_event(), seen)
    assert got.shopper == "2" and "reaching as the weight changed (p 0.95)" in got.reason
    # The other way round, the closer one's reach timed: the closer one.
    seen = write(reach(close, 4.7, 5.9), reach(far, 5.5, 6.7))
    assert in_front(weight_event(), seen).shopper == "1"
    # A short gap (one frame below 0.5) does not cut a reach in two: 2's reach 4.2-5.8 with a dip at 4.5 s
    # still has its middle (5.0 s) at the change.
    dip = [(row, 0.05 if abs(row[0] / FPS - 4.5) < 0.01 else p) for row, p in reach(far, 4.2, 5.8)]
    seen = write(reach(close, 5.5, 6.7), dip)
    assert in_front(weight_event(), seen).shopper == "2"
    # Timing off (reach_timing_s < 0): both count as reaching, the closer is billed, as before.
    config = PresenceConfig(reach_timing_s=-1)
    seen = write(reach(close, 5.5, 6.7), reach(far, 4.7, 5.9))
    got = in_front(weight_event(), seen, config)
    assert got.shopper == "1" and "reaching (p 0.95)" in got.reason


def test_a_shopper_just_beside_the_plates_counts_when_they_alone_reached_as_the_weight_changed(tmp_path):
    """Plate 3 is x 300-400. 1 stands in front (box 310-390) but idle; 2 stands just beside (box
    200-280: offset 1.2, over the 1.0 of "in front", within beside_offset 1.5) and reaches as the
    weight changes: 2 is billed. When 1 reaches then too, 2 is not considered; nor is a shopper
    further away (offset over 1.5) nor one beside who was idle."""
    (tmp_path / "store.json").write_text(json.dumps(STORE))

    def seen(p1, x2, p2):
        return read_presence(reaching_tracks(tmp_path / "tracks.csv", (stands(1, 350, 3.0, 7.0), p1),
                                             (stands(2, x2, 3.0, 7.0), p2)), tmp_path / "store.json")

    got = in_front(weight_event(), seen(0.1, 240, 0.9))
    assert got.shopper == "2" and "reaching as the weight changed" in got.reason
    assert in_front(weight_event(), seen(0.9, 240, 0.9)).shopper == "1"
    assert in_front(weight_event(), seen(0.1, 180, 0.9)).shopper == "1"  # offset 1.7
    assert in_front(weight_event(), seen(0.1, 240, 0.1)).shopper == "1"
    assert in_front(weight_event(), seen(0.1, 240, 0.9), PresenceConfig(beside_offset=1.0)).shopper == "1"


def test_the_reason_says_when_the_billed_shopper_was_probably_not_reaching(tmp_path):
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    seen = read_presence(reaching_tracks(tmp_path / "tracks.csv", (stands(1, 350, 3.0, 7.0), 0.1)),
                         tmp_path / "store.json")
    got = in_front(weight_event(), seen)
    assert got.shopper == "1" and "probability of reaching 0.10" in got.reason


@pytest.mark.parametrize("value", ["yes", "1.5", "-0.1"])
def test_a_reaching_value_that_is_not_a_probability_is_refused_naming_the_file(tmp_path, value):
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    path = reaching_tracks(tmp_path / "tracks.csv", (stands(1, 350, 3.0, 3.2), value))
    with pytest.raises(FormatError, match="reaching is not a probability") as error:
        read_presence(path, tmp_path / "store.json")
    assert "tracks.csv" in str(error.value)


def test_a_hand_seen_in_the_plate_loses_to_a_reach_timed_with_the_change(tmp_path):
    """Two shoppers side by side: a hand in the changed plate is attached to 2, but the reach
    classifier says 2 was not reaching as the weight changed and 1 was: 1 is billed, the reason
    names both. When 2 was reaching too, or nobody was, the hand decides as before."""
    (tmp_path / "store.json").write_text(json.dumps(STORE))
    hand_of_2 = pd.DataFrame([("cam0", "2", "A1", "3", T0 + 4.9, T0 + 5.5, 6)], columns=list(REACH_COLUMNS))

    def seen(p1, p2):
        return read_presence(reaching_tracks(tmp_path / "tracks.csv", (stands(1, 350, 3.0, 7.0), p1),
                                             (stands(2, 420, 3.0, 7.0), p2)), tmp_path / "store.json")

    got = who_changed(weight_event(), hand_of_2, seen(0.9, 0.1))
    assert got.shopper == "1"
    assert "reaching as the weight changed" in got.reason and "shopper 2's hand was seen there" in got.reason
    assert who_changed(weight_event(), hand_of_2, seen(0.9, 0.9)).shopper == "2"
    assert who_changed(weight_event(), hand_of_2, seen(0.1, 0.1)).shopper == "2"


def test_a_zone_over_several_plates_counts_for_each(tmp_path):
    seen = presence(tmp_path, stands(1, 200, 3.0, 7.0), stands(2, 500, 3.0, 7.0))
    assert in_front(weight_event(plates=(2,), shelf="B1"), seen).shopper == "1"


def test_a_hand_in_the_changed_plate_beats_a_body_in_front(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0), stands(2, 420, 3.0, 7.0))
    reaches = pd.DataFrame([("cam0", "2", "A1", "3", T0 + 4.9, T0 + 5.5, 6)], columns=list(REACH_COLUMNS))
    assert who_changed(weight_event(), reaches, seen).shopper == "2"
    assert who_changed(weight_event(), None, seen).shopper == "1"
    elsewhere = pd.DataFrame([("cam0", "2", "A1", "1", T0 + 4.9, T0 + 5.5, 6)], columns=list(REACH_COLUMNS))
    assert who_changed(weight_event(), elsewhere, seen).shopper == "1"  # a body in front beats a hand next door
    assert who_changed(weight_event(), elsewhere, None).shopper == "2"  # ...which is still better than nobody


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


def test_a_store_without_cameras_is_refused_naming_it(tmp_path):
    (tmp_path / "store.json").write_text("{}")
    with pytest.raises(FormatError, match="store.json"):
        read_presence(write_tracks(tmp_path / "tracks.csv", stands(1, 350, 0, 1)), tmp_path / "store.json")


def ret(shopper, status="confirmed", quantity=1):
    return ReceiptLine(status, CHIPS, quantity, "return", T0 + 5.0, "A1", (3,), 120.0, None, "w0001", "fits",
                       shopper=shopper)


def test_a_return_goes_to_the_only_shopper_holding_the_product():
    carts = {"1": Counter({CHIPS: 1}), "2": Counter({COLA: 2})}
    [moved] = give_returns_to_holders([ret("2")], carts, weight_event(delta_g=120.0), None)
    assert moved.shopper == "1" and moved.status == "confirmed"
    assert "given to shopper 1, who held 0002 (shopper 2 held none)" in moved.reason
    [found] = give_returns_to_holders([ret(None, "unattributed")], carts, weight_event(delta_g=120.0), None)
    assert (found.shopper, found.status) == ("1", "reached")


def test_a_return_stays_when_its_shopper_holds_it_or_nobody_does():
    carts = {"1": Counter({CHIPS: 1}), "2": Counter({CHIPS: 1})}
    assert give_returns_to_holders([ret("2")], carts, weight_event(delta_g=120.0), None) == [ret("2")]
    assert give_returns_to_holders([ret("3")], {"1": Counter({COLA: 1})}, weight_event(), None) == [ret("3")]
    assert give_returns_to_holders([ret("3", quantity=2)], {"1": Counter({CHIPS: 1})}, weight_event(),
                                   None) == [ret("3", quantity=2)]  # nobody holds two


def test_among_several_holders_the_one_in_front_gets_the_return(tmp_path):
    carts = {"1": Counter({CHIPS: 1}), "2": Counter({CHIPS: 1})}
    seen = presence(tmp_path, stands(1, 160, 3.0, 7.0), stands(2, 350, 3.0, 7.0), stands(3, 330, 3.0, 7.0))
    [moved] = give_returns_to_holders([ret("3")], carts, weight_event(delta_g=120.0), seen)
    assert moved.shopper == "2"
    assert give_returns_to_holders([ret("3")], carts, weight_event(delta_g=120.0), None) == [ret("3")]


def test_a_return_of_a_product_told_wrong_becomes_the_one_its_shopper_holds(tmp_path):
    """Two cans of nearly one weight: vision says shopper 2, in front of the plate, put back a cola,
    but 2 holds a lemon soda and only 1, elsewhere, holds a cola. The weight fits both cans: 2 put
    back their lemon soda. When the cola's holder stood there too, or the weight does not fit the
    lemon soda, the return goes to the holder as before."""
    cola, lemon = "0101", "0102"
    catalog = pd.DataFrame({"sku": [cola, lemon], "name": ["Cola", "Lemon"], "weight_g": [368.0, 372.0],
                            "weight_std_g": [3.0, 3.0]})
    carts = {"1": Counter({cola: 1}), "2": Counter({lemon: 1})}
    line = replace(ret("2"), sku=cola, delta_g=376.0)
    change = weight_event(delta_g=376.0)
    seen = presence(tmp_path, stands(1, 160, 3.0, 7.0), stands(2, 350, 3.0, 7.0))
    [kept] = give_returns_to_holders([line], carts, change, seen, catalog=catalog)
    assert (kept.shopper, kept.sku) == ("2", lemon)
    assert "held no 0101 but held 0102, which the weight fits as well" in kept.reason
    both_there = presence(tmp_path, stands(1, 330, 3.0, 7.0), stands(2, 350, 3.0, 7.0))
    assert give_returns_to_holders([line], carts, change, both_there, catalog=catalog)[0].shopper == "1"
    heavy = {"1": Counter({cola: 1}), "2": Counter({"0103": 1})}
    catalog = pd.concat([catalog, pd.DataFrame({"sku": ["0103"], "name": ["Water"], "weight_g": [1040.0],
                                                "weight_std_g": [6.0]})])
    assert give_returns_to_holders([line], heavy, change, seen, catalog=catalog)[0].shopper == "1"
    assert give_returns_to_holders([line], carts, change, seen)[0].shopper == "1"  # without a catalog


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    steps = [Step("A1", 3, 5.3, -120.0), Step("A1", 3, 12.3, +120.0), Step("B1", 1, 16.3, -200.0)]
    recording = write_recording(root / "rec", make_log(LogSpec(duration_s=20.0, steps=steps, seed=9)))
    (recording / "store.json").write_text(json.dumps(STORE))
    return recording


def test_fusion_bills_the_shopper_in_front_and_credits_the_return_to_the_holder(store, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [])
    # Shopper 1 stands at A1 plate 3 when the chips go; shopper 2 stands there when they come back,
    # but holds none, so the return is shopper 1's; shopper 2 is at B1 when the soap goes.
    write_tracks(run / "tracks.csv", stands(1, 350, 3.0, 7.0), stands(2, 350, 10.5, 14.0), stands(2, 200, 15.0, 18.0))
    result = fuse_recording(store, run, tmp_path / "out")
    lines = sorted((x.timestamp - T0, x.status, x.shopper, x.sku, x.action) for x in result.lines)
    assert [line[1:] for line in lines] == [
        ("reached", "1", CHIPS, "pick"), ("reached", "1", CHIPS, "return"), ("reached", "2", SOAP, "pick")]
    assert result.receipts["shoppers"]["1"]["items"] == {}
    assert result.receipts["shoppers"]["2"]["items"] == {SOAP: 1}


def test_fusion_without_tracks_leaves_the_same_changes_unattributed(store, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [])
    result = fuse_recording(store, run, tmp_path / "out")
    assert {x.status for x in result.lines} == {"unattributed"}


def test_frame_rates_come_from_run_json_else_from_store_json(tmp_path):
    store = {**STORE, "cameras": [{k: v for k, v in STORE["cameras"][0].items() if k != "fps"}]}
    (tmp_path / "store.json").write_text(json.dumps(store))
    tracks = write_tracks(tmp_path / "tracks.csv", stands(1, 350, 1.0, 1.0))  # frame 10
    with pytest.raises(FormatError, match="no frame rate for camera cam0"):
        read_presence(tracks, tmp_path / "store.json")
    (tmp_path / "run.json").write_text(json.dumps({"cameras": {"cam0": {"fps": 5.0, "frames": 100}}}))
    assert read_presence(tracks, tmp_path / "store.json").positions["timestamp"].tolist() == [T0 + 2.0]


def test_a_line_whose_shopper_was_not_at_the_plates_goes_to_the_shopper_who_was(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0), stands(2, 160, 3.0, 7.0), stands(3, 390, 3.0, 7.0))
    def picked(shopper):
        return ReceiptLine("confirmed", CHIPS, 1, "pick", T0 + 5.0, "A1", (3,), -120.0, None, "w0001", "fits",
                           shopper=shopper)
    [moved] = check_shopper_in_front([picked("2")], weight_event(), seen)  # 2 stood at plate 1
    assert moved.shopper == "1" and moved.status == "confirmed"
    assert moved.reason.endswith("shopper 2 (vision's) was not there")
    assert check_shopper_in_front([picked("3")], weight_event(), seen) == [picked("3")]  # 3 was there too
    assert check_shopper_in_front([picked("2")], weight_event(plates=(1,)), seen) == [picked("2")]
    assert check_shopper_in_front([picked("2")], weight_event(), None) == [picked("2")]


def test_vision_keeps_a_shopper_beside_the_plates_whose_reach_was_timed_with_the_change(tmp_path):
    """Vision's shopper 2 stood beside the plates, not in front; the reach classifier says 2 reached
    as the weight changed (5.0-5.6 s) and 1, in front, did not: vision's line stands. When 1 reached
    then too, 1 gets it as before."""
    (tmp_path / "store.json").write_text(json.dumps(STORE))

    def picked(shopper):
        return ReceiptLine("confirmed", CHIPS, 1, "pick", T0 + 5.0, "A1", (3,), -120.0, None, "w0001", "fits",
                           shopper=shopper)

    def seen(p1):
        beside = [(row, 0.9 if 4.8 <= row[0] / FPS <= 5.8 else 0.1) for row in stands(2, 160, 3.0, 7.0)]
        rows = [([row], p1) for row in stands(1, 350, 3.0, 7.0)] + [([row], p) for row, p in beside]
        return read_presence(reaching_tracks(tmp_path / "tracks.csv", *rows), tmp_path / "store.json")

    assert check_shopper_in_front([picked("2")], weight_event(), seen(0.1)) == [picked("2")]
    assert check_shopper_in_front([picked("2")], weight_event(), seen(0.9))[0].shopper == "1"


def test_vision_s_shopper_in_front_who_did_not_reach_then_loses_to_the_one_who_did(tmp_path):
    """Both stand at plate 3. Vision says 2 took the bag; the reach classifier says 1 reached as the
    weight changed (5.0-5.6 s) and 2 reached only a second later: 1 gets it. When both reached then,
    or neither did, vision's shopper keeps it."""
    (tmp_path / "store.json").write_text(json.dumps(STORE))

    def picked(shopper):
        return ReceiptLine("confirmed", CHIPS, 1, "pick", T0 + 5.0, "A1", (3,), -120.0, None, "w0001", "fits",
                           shopper=shopper)

    def seen(reach1, reach2):
        rows = []
        for shopper, x, (lo, hi) in ((1, 330, reach1), (2, 370, reach2)):
            rows += [([row], 0.9 if lo <= row[0] / FPS <= hi else 0.1) for row in stands(shopper, x, 3.0, 8.0)]
        return read_presence(reaching_tracks(tmp_path / "tracks.csv", *rows), tmp_path / "store.json")

    (got,) = check_shopper_in_front([picked("2")], weight_event(), seen((4.8, 5.8), (6.2, 7.2)))
    assert got.shopper == "1" and "shopper 2 (vision's) stood there too but did not reach" in got.reason
    assert check_shopper_in_front([picked("2")], weight_event(), seen((4.8, 5.8), (4.9, 5.9))) == [picked("2")]
    assert check_shopper_in_front([picked("2")], weight_event(), seen((1.0, 2.0), (6.2, 7.2))) == [picked("2")]


def test_checking_vision_is_a_setting_read_from_the_fuse_config():
    assert PresenceConfig().checks_vision is True
    assert PresenceConfig.from_dict({"checks_vision": False}).checks_vision is False
    with pytest.raises(ValueError, match="true or false"):
        PresenceConfig.from_dict({"checks_vision": "yes"})


def test_two_shoppers_taking_side_by_side_at_once_each_get_their_plates_product(tmp_path):
    steps = [Step("A1", 3, 5.3, -120.0), Step("A1", 4, 5.35, -50.0)]  # one weight change over plates 3-4
    recording = write_recording(tmp_path / "rec", make_log(LogSpec(duration_s=10.0, steps=steps, seed=11)))
    (recording / "store.json").write_text(json.dumps(STORE))
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [(5.2, "2", "pick", CHIPS, 1, "A1")])  # vision saw 2 take the chips
    write_tracks(run / "tracks.csv", stands(1, 350, 3.0, 7.0), stands(2, 450, 3.0, 7.0))  # 1 at plate 3, 2 at 4
    result = fuse_recording(recording, run, tmp_path / "out")
    assert [w.plates for w in result.weight_events] == [(3, 4)]
    assert sorted((x.shopper, x.sku) for x in result.lines) == [("1", CHIPS), ("2", BAR)]


def test_fuse_config_sections_convert_their_values_and_refuse_unknown_keys():
    from fusion.pipeline import FuseConfig

    config = FuseConfig.from_dict({"presence": {"min_frames": 3.0, "checks_vision": False}, "reach": {"window_s": 2}})
    assert (config.presence.min_frames, config.presence.checks_vision, config.reach.window_s) == (3, False, 2.0)
    assert isinstance(config.presence.min_frames, int) and isinstance(config.reach.window_s, float)
    with pytest.raises(ValueError, match="unknown reach setting"):
        FuseConfig.from_dict({"reach": {"widow_s": 2}})


@pytest.mark.parametrize(("steps", "expected"), [
    # Two bags 0.6 s apart: the plate takes a second to settle, two grabs, one by each shopper.
    ([Step("A1", 3, 5.3, -120.0), Step("A1", 3, 5.9, -120.0)], [("1", 1), ("2", 1)]),
    # Two bags at once: one grab, vision's shopper's.
    ([Step("A1", 3, 5.3, -240.0)], [("1", 2)]),
])
def test_a_slow_two_item_change_with_two_shoppers_in_front_is_shared_between_them(tmp_path, steps, expected):
    recording = write_recording(tmp_path / "rec", make_log(LogSpec(duration_s=10.0, steps=steps, seed=12)))
    (recording / "store.json").write_text(json.dumps(STORE))
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [(5.2, "1", "pick", CHIPS, 1, "A1")])  # vision saw shopper 1 take one bag
    write_tracks(run / "tracks.csv", stands(1, 330, 3.0, 8.0), stands(2, 370, 3.0, 8.0))  # both at plate 3
    result = fuse_recording(recording, run, tmp_path / "out")
    (event,) = result.weight_events
    assert event.delta_g == pytest.approx(-240.0, abs=3.0)
    assert sorted((x.shopper, x.quantity) for x in result.lines if x.sku == CHIPS) == expected


@pytest.mark.parametrize(("boxes", "expected"), [
    # 1 stands at plate 1 and takes two colas, 2 at plate 2 takes one, within a second: one change.
    ([(1, 150), (2, 250)], [("1", 2), ("2", 1)]),
    # One shopper in front of both plates takes all three.
    ([(2, 200)], [("2", 3)]),
])
def test_one_product_taken_from_two_plates_goes_plate_by_plate_to_the_shopper_in_front(tmp_path, boxes, expected):
    steps = [Step("A1", 1, 5.3, -700.0), Step("A1", 2, 5.8, -350.0)]  # cola is on plates 1 and 2
    recording = write_recording(tmp_path / "rec", make_log(LogSpec(duration_s=10.0, steps=steps, seed=13)))
    (recording / "store.json").write_text(json.dumps(STORE))
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [(5.7, "2", "pick", COLA, 1, "A1")])  # vision saw shopper 2 take a cola
    write_tracks(run / "tracks.csv", *(stands(shopper, x, 3.0, 8.0, width=90.0) for shopper, x in boxes))
    result = fuse_recording(recording, run, tmp_path / "out")
    assert [w.plates for w in result.weight_events] == [(1, 2)]
    assert sorted((x.shopper, x.quantity) for x in result.lines if x.counted) == expected


@pytest.mark.parametrize(("reaches", "expected"), [
    # 1 reaches around 5.3 s, 2 around 6.5 s: the first step (two bags) is 1's, the second 2's.
    ({1: (5.0, 5.6), 2: (6.2, 6.8)}, [("1", 2, 5.3), ("2", 1, 6.5)]),
    # The other way round.
    ({1: (6.2, 6.8), 2: (5.0, 5.6)}, [("1", 1, 6.5), ("2", 2, 5.3)]),
    # Nobody reaching at the second step: no split by steps; the change is shared as before (the odd
    # item to vision's shopper).
    ({1: (5.0, 5.6), 2: (8.5, 9.0)}, [("1", 2, 4.9), ("2", 1, 4.9)]),
])
def test_a_change_made_in_steps_goes_step_by_step_to_who_reached_then(tmp_path, reaches, expected):
    """Three bags leave plate 3 in two steps, 1.2 s apart (the plate settles between): each step's
    items go to the shopper in front whose reach had its middle at that step, stamped with its time."""
    steps = [Step("A1", 3, 5.3, -240.0), Step("A1", 3, 6.5, -120.0)]
    recording = write_recording(tmp_path / "rec", make_log(LogSpec(duration_s=10.0, steps=steps, seed=14)))
    (recording / "store.json").write_text(json.dumps(STORE))
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [(5.2, "1", "pick", CHIPS, 1, "A1")])  # vision saw shopper 1 take one bag
    groups = []
    for shopper, x in ((1, 330), (2, 370)):  # both in front of plate 3
        lo, hi = reaches[shopper]
        groups += [([row], 0.95 if lo <= row[0] / FPS <= hi else 0.05) for row in stands(shopper, x, 3.0, 9.5)]
    reaching_tracks(run / "tracks.csv", *groups)
    result = fuse_recording(recording, run, tmp_path / "out")
    (event,) = result.weight_events
    assert len(event.steps) == 2
    got = sorted((x.shopper, x.quantity, x.timestamp - T0) for x in result.lines if x.counted)
    assert [(s, q) for s, q, _ in got] == [(s, q) for s, q, _ in expected]
    assert [t for _, _, t in got] == pytest.approx([t for _, _, t in expected], abs=0.15)


def test_with_floor_positions_each_shopper_in_front_carries_their_distance_to_the_plates_in_metres(tmp_path):
    from formats.store import Box, Shelf

    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0), stands(2, 330, 3.0, 7.0))
    plate3 = Box((0.75, 0.25, 0.3), (0.25, 0.5, 0.4))  # plate 3 of A1: x 0.625-0.875 m, front at y = 0
    shelf = Shelf("A1", Box((0.5, 0.25, 0.3), (1.0, 0.5, 0.4)), ((3, plate3),))
    times = [T0 + 3.0 + 0.1 * k for k in range(40)]
    floor = pd.DataFrame({"timestamp": times * 2, "shopper": ["1"] * 40 + ["2"] * 40,
                          "x": [0.75] * 40 + [1.4] * 40, "y": [-0.4] * 40 + [-0.3] * 40})
    standing = shoppers_in_front(weight_event(), replace(seen, floor=floor, shelves=(shelf,)))
    assert standing.loc["1", "distance_m"] == pytest.approx(0.4)
    assert standing.loc["2", "distance_m"] == pytest.approx((0.525**2 + 0.3**2) ** 0.5)
