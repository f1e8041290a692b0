"""Reaches: a vision run's reaches.csv (who had a hand in which shelf zone, when) is read and checked;
a hand at the shelf makes its shopper a candidate for the weight changes near it."""

from __future__ import annotations

import pandas as pd
import pytest
from fusion_synth import T0, LogSpec, Step, make_log, write_events, write_recording

from formats.errors import FormatError
from formats.tables import REACH_COLUMNS
from fusion.attribution import NearestShopper
from fusion.pipeline import fuse_recording
from fusion.reaches import read_reaches

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


def write_reaches(path, *rows):
    reaches_table(*rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    return write_recording(root / "rec", make_log(LogSpec(duration_s=20.0, steps=STEPS, seed=5)))


def test_a_reaches_file_is_read_with_typed_columns(tmp_path):
    path = write_reaches(tmp_path / "reaches.csv", reach(1, "A1", "3", 5.0, 5.6), reach(2, "B1", "", 9.0, 9.5, frames=3))
    table = read_reaches(path)
    assert table["shopper"].tolist() == ["1", "2"]
    assert table["plates"].tolist() == ["3", ""]  # empty: the zone covers the whole shelf
    assert table["start"].tolist() == [T0 + 5.0, T0 + 9.0]
    assert table["frames"].tolist() == [8.0, 3.0]


def test_fusion_gives_unexplained_weight_changes_to_the_shopper_whose_hand_was_there(store, tmp_path):
    events = write_events(tmp_path / "events.csv", [(16.0, "2", "pick", TEA, 1, "B1")])
    write_reaches(tmp_path / "reaches.csv", reach(1, "A1", "3", 5.0, 5.6), reach(2, "A1", "1", 9.0, 9.6))
    result = fuse_recording(store, events, tmp_path / "out", model=NearestShopper())  # reaches.csv beside events.csv
    by_status = {(x.status, x.shopper, x.sku, x.quantity) for x in result.lines}
    assert by_status == {("confirmed", "2", TEA, 1), ("reached", "1", CHIPS, 1), ("reached", "2", COLA, 2)}
    assert result.receipts["shoppers"]["1"]["items"] == {CHIPS: 1}
    assert result.receipts["shoppers"]["2"]["items"] == {COLA: 2, TEA: 1}
    assert result.receipts["unattributed"]["items"] == {}


def test_without_reaches_the_same_changes_stay_unattributed(store, tmp_path):
    events = write_events(tmp_path / "events.csv", [(16.0, "2", "pick", TEA, 1, "B1")])
    result = fuse_recording(store, events, tmp_path / "out", model=NearestShopper())
    assert result.receipts["unattributed"]["items"] == {CHIPS: 1, COLA: 2}


def test_reaches_passed_as_a_table_are_used_too(store, tmp_path):
    events = write_events(tmp_path / "events.csv", [])
    result = fuse_recording(store, events, tmp_path / "out", reaches=reaches_table(reach(3, "B1", "2", 16.0, 16.5)),
                            model=NearestShopper())
    assert {(x.shopper, x.sku) for x in result.lines if x.shopper is not None} == {("3", TEA)}


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
