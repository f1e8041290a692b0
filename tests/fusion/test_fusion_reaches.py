"""Reaches: a weight change vision saw no event for goes to the shopper whose hand was at that shelf."""

from __future__ import annotations

import pandas as pd
import pytest
from fusion_synth import T0, LogSpec, Step, make_log, write_events, write_recording

from formats.errors import FormatError
from formats.receipts import ReceiptLine
from formats.weight_events import WeightEvent
from fusion.pipeline import fuse_recording
from fusion.reaches import REACH_COLUMNS, ReachConfig, attribute, reaching_shoppers, read_reaches
from fusion.reconcile import split_between_reaching

CHIPS, COLA, TEA = "0002", "0001", "0005"
STEPS = [
    Step("A1", 3, 5.3, -120.0),  # one bag of chips
    Step("A1", 1, 9.3, -700.0),  # two colas in one weight change
    Step("B1", 2, 16.3, -410.0),  # a tea
]


def reach(shopper, shelf, plates, start_s, end_s, frames=8, camera="cam0"):
    return (camera, str(shopper), shelf, plates, T0 + start_s, T0 + end_s, frames)


def reaches_table(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(REACH_COLUMNS))


def weight_event(shelf="A1", plates=(3,), start_s=5.0, end_s=5.6, delta_g=-120.0) -> WeightEvent:
    return WeightEvent(id="w0001", start=T0 + start_s, end=T0 + end_s, shelf=shelf, plates=plates,
                       delta_g=delta_g, plate_deltas_g=(delta_g,), confidence=1.0)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    return write_recording(root / "rec", make_log(LogSpec(duration_s=20.0, steps=STEPS, seed=5)))


def write_reaches(path, *rows):
    reaches_table(*rows).to_csv(path, index=False)
    return path


def test_the_shopper_reaching_during_the_change_gets_it():
    reaches = reaches_table(reach(1, "A1", "3", 4.8, 5.9), reach(2, "A1", "1", 1.0, 2.0))
    got = attribute(weight_event(), reaches)
    assert got is not None and got.shopper == "1"
    assert "during the change" in got.reason


def test_the_closest_reach_in_time_wins_and_the_other_is_named():
    reaches = reaches_table(reach(1, "A1", "3", 3.0, 4.0), reach(2, "A1", "3", 5.2, 5.5))
    got = attribute(weight_event(), reaches)
    assert got.shopper == "2"
    assert "also 1" in got.reason


def test_a_reach_into_the_changed_plate_beats_one_into_the_next_plate():
    reaches = reaches_table(reach(1, "A1", "4", 5.0, 5.6), reach(2, "A1", "3", 5.7, 6.0))
    assert attribute(weight_event(), reaches).shopper == "2"


def test_another_shelfs_zone_counts_only_when_nobody_reached_this_shelf():
    other = reach(1, "A2", "3", 5.0, 5.6)
    assert attribute(weight_event(), reaches_table(other)).shopper == "1"
    assert attribute(weight_event(), reaches_table(other, reach(2, "A1", "3", 6.5, 6.8))).shopper == "2"


def test_no_reach_near_the_change_attributes_nothing():
    far = reaches_table(reach(1, "A1", "3", 9.0, 10.0))
    assert attribute(weight_event(), far) is None
    assert attribute(weight_event(), reaches_table()) is None
    assert attribute(weight_event(), None) is None


def test_a_glimpse_of_one_frame_is_not_a_reach():
    assert attribute(weight_event(), reaches_table(reach(1, "A1", "3", 5.0, 5.0, frames=1))) is None
    assert attribute(weight_event(), reaches_table(reach(1, "A1", "3", 5.0, 5.0, frames=1)),
                     ReachConfig(min_frames=1)).shopper == "1"


def test_reaching_shoppers_are_those_at_the_changed_plates_during_the_change_in_order():
    reaches = reaches_table(
        reach(2, "A1", "3", 5.3, 5.8), reach(1, "A1", "3", 4.9, 5.4),
        reach(3, "A1", "1", 5.0, 5.5),  # another plate
        reach(4, "A1", "3", 7.0, 8.0),  # after
    )
    assert reaching_shoppers(weight_event(), reaches) == ["1", "2"]


def line(quantity, shopper="1", status="confirmed"):
    return ReceiptLine(status, COLA, quantity, "pick", T0 + 9.3, "A1", (1,), -700.0, None, "w0002", "fits",
                       shopper=shopper)


def test_several_items_with_several_reaching_shoppers_are_split_one_each():
    split = split_between_reaching([line(2, shopper="2")], ["1", "2"])
    assert sorted((x.shopper, x.quantity, x.status) for x in split) == [("1", 1, "reached"), ("2", 1, "confirmed")]
    assert all("split between shoppers 2, 1" in x.reason for x in split)


def test_items_are_split_as_evenly_as_grabs_allow():
    # Four items, two shoppers: two each (a grab takes one or two), not three and one.
    split = split_between_reaching([line(4, shopper="2")], ["1", "2"])
    assert sorted((x.shopper, x.quantity) for x in split) == [("1", 2), ("2", 2)]
    # Three items: the odd one to the line's own shopper.
    split = split_between_reaching([line(3, shopper="2")], ["1", "2"])
    assert sorted((x.shopper, x.quantity) for x in split) == [("1", 1), ("2", 2)]


def test_one_item_or_one_shopper_is_never_split():
    assert split_between_reaching([line(1)], ["1", "2"]) == [line(1)]
    assert split_between_reaching([line(3)], ["1"]) == [line(3)]


def test_fusion_gives_unexplained_weight_changes_to_the_reaching_shopper(store, tmp_path):
    events = write_events(tmp_path / "events.csv", [(16.0, "2", "pick", TEA, 1, "B1")])
    write_reaches(tmp_path / "reaches.csv", reach(1, "A1", "3", 5.0, 5.6), reach(2, "A1", "1", 9.0, 9.6))
    result = fuse_recording(store, events, tmp_path / "out")  # reaches.csv beside events.csv is found
    by_status = {(x.status, x.shopper, x.sku, x.quantity) for x in result.lines}
    assert by_status == {("confirmed", "2", TEA, 1), ("reached", "1", CHIPS, 1), ("reached", "2", COLA, 2)}
    assert result.receipts["shoppers"]["1"]["items"] == {CHIPS: 1}
    assert result.receipts["shoppers"]["2"]["items"] == {COLA: 2, TEA: 1}
    assert result.receipts["unattributed"]["items"] == {}


def test_without_reaches_the_same_changes_stay_unattributed(store, tmp_path):
    events = write_events(tmp_path / "events.csv", [(16.0, "2", "pick", TEA, 1, "B1")])
    result = fuse_recording(store, events, tmp_path / "out")
    assert result.receipts["unattributed"]["items"] == {CHIPS: 1, COLA: 2}


def test_two_shoppers_taking_from_one_plate_at_once_get_one_item_each(store, tmp_path):
    events = write_events(tmp_path / "events.csv", [])
    write_reaches(tmp_path / "reaches.csv", reach(1, "A1", "1", 8.8, 9.4), reach(2, "A1", "1", 9.1, 9.8))
    result = fuse_recording(store, events, tmp_path / "out")
    shoppers = result.receipts["shoppers"]
    assert shoppers["1"]["items"] == {COLA: 1} and shoppers["2"]["items"] == {COLA: 1}


@pytest.mark.parametrize(("text", "words"), [
    ("camera,shopper,shelf,plates,start\n", "missing column(s) end, frames"),
    ("camera,shopper,shelf,plates,start,end,frames\ncam0,1,A1,3,soon,1700000001,4\n", "line 2: start is not a number"),
    ("camera,shopper,shelf,plates,start,end,frames\ncam0,1,A1,3,1700000002,1700000001,4\n", "line 2: reach ends before"),
    ("", "empty"),
])
def test_a_malformed_reaches_file_is_refused_naming_the_file(tmp_path, text, words):
    path = tmp_path / "reaches.csv"
    path.write_text(text)
    with pytest.raises(FormatError, match="reaches.csv") as caught:
        read_reaches(path)
    assert words in str(caught.value)
