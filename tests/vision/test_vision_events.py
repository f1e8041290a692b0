"""Hand visits to shelf zones become picks and returns; passing over a zone does not."""

from __future__ import annotations

import pandas as pd
import pytest

from vision.events import HAND_COLUMNS, EventConfig, decide_events, find_visits
from vision.timeline import build_timelines
from vision.zones import ShelfZone

ZONES = (
    ShelfZone("A1", (1, 2), ((0, 0), (100, 0), (100, 50), (0, 50))),
    ShelfZone("A2", (3,), ((100, 0), (200, 0), (200, 50), (100, 50))),
)
PLANOGRAM = {("A1", 1): "111", ("A1", 2): "111", ("A2", 3): "333"}
CONFIG = EventConfig(min_visit_frames=3, max_gap_frames=2, window_frames=6, min_window_frames=2)


def hand_rows(owner: int, frames: range, *, zone: int = -1, sku: str = "", count: int = 0,
              confidence: float = 0.9) -> list[dict]:
    return [
        {"frame": f, "owner": owner, "x": 50.0, "y": 25.0 if zone >= 0 else 200.0, "zone": zone,
         "sku": sku, "count": count, "sku_confidence": confidence}
        for f in frames
    ]


def table(*parts: list[dict]) -> pd.DataFrame:
    rows = [row for part in parts for row in part]
    return pd.DataFrame(rows, columns=list(HAND_COLUMNS))


def events_of(hands: pd.DataFrame):
    events, _ = decide_events(hands, ZONES, camera="cam0", start_timestamp=1000.0, fps=10.0,
                              planogram=PLANOGRAM, config=CONFIG)
    return [(e.shopper, e.action, e.sku, e.quantity, e.shelf) for e in events]


def test_no_hands_no_events():
    assert events_of(table()) == []


def test_empty_hand_in_then_holding_after_is_a_pick():
    hands = table(hand_rows(7, range(0, 10)), hand_rows(7, range(10, 15), zone=0),
                  hand_rows(7, range(15, 25), sku="111", count=1))
    assert events_of(hands) == [("7", "pick", "111", 1, "A1")]


def test_pick_time_is_the_middle_of_the_visit():
    hands = table(hand_rows(7, range(0, 10)), hand_rows(7, range(10, 15), zone=0),
                  hand_rows(7, range(15, 25), sku="111", count=1))
    events, _ = decide_events(hands, ZONES, camera="cam0", start_timestamp=1000.0, fps=10.0, config=CONFIG)
    assert events[0].timestamp == pytest.approx(1000.0 + 12 / 10)
    assert events[0].frame == 12


def test_two_items_in_one_grab_is_quantity_two():
    hands = table(hand_rows(7, range(0, 10)), hand_rows(7, range(10, 15), zone=1),
                  hand_rows(7, range(15, 25), sku="333", count=2))
    assert events_of(hands) == [("7", "pick", "333", 2, "A2")]


def test_holding_before_and_empty_after_is_a_return():
    hands = table(hand_rows(9, range(0, 10), sku="333", count=1), hand_rows(9, range(10, 15), zone=0),
                  hand_rows(9, range(15, 25)))
    # Returned onto A1 although the product belongs on A2: the event names where it was put.
    assert events_of(hands) == [("9", "return", "333", 1, "A1")]


def test_a_hand_passing_over_a_zone_is_not_a_visit():
    hands = table(hand_rows(7, range(0, 10)), hand_rows(7, range(10, 12), zone=0),
                  hand_rows(7, range(12, 25), sku="111", count=1))
    assert find_visits(hands, CONFIG) == []
    assert events_of(hands) == []


def test_flicker_inside_a_visit_is_bridged():
    hands = table(hand_rows(7, range(0, 10)), hand_rows(7, range(10, 13), zone=0), hand_rows(7, range(13, 15)),
                  hand_rows(7, range(15, 18), zone=0), hand_rows(7, range(18, 28), sku="111", count=1))
    visits = find_visits(hands, CONFIG)
    assert [(v.start_frame, v.end_frame) for v in visits] == [(10, 17)]
    assert events_of(hands) == [("7", "pick", "111", 1, "A1")]


def test_reaching_in_and_out_empty_handed_is_nothing():
    hands = table(hand_rows(7, range(0, 10)), hand_rows(7, range(10, 15), zone=0), hand_rows(7, range(15, 25)))
    assert len(find_visits(hands, CONFIG)) == 1
    assert events_of(hands) == []


def test_an_unreadable_product_falls_back_to_the_planogram_of_the_zone():
    hands = table(hand_rows(7, range(0, 10)), hand_rows(7, range(10, 15), zone=1),
                  hand_rows(7, range(15, 25), sku="999", count=1, confidence=0.2))
    assert events_of(hands) == [("7", "pick", "333", 1, "A2")]


def test_two_shoppers_at_one_shelf_each_get_their_own_event():
    hands = table(
        hand_rows(7, range(0, 10)), hand_rows(7, range(10, 15), zone=0), hand_rows(7, range(15, 25), sku="111", count=1),
        hand_rows(9, range(0, 12)), hand_rows(9, range(12, 17), zone=0), hand_rows(9, range(17, 27), sku="111", count=1),
    )
    assert sorted(events_of(hands)) == [("7", "pick", "111", 1, "A1"), ("9", "pick", "111", 1, "A1")]


def test_a_second_pick_while_holding_the_first_counts_only_the_new_item():
    hands = table(
        hand_rows(7, range(0, 10)), hand_rows(7, range(10, 15), zone=0),
        hand_rows(7, range(15, 30), sku="111", count=1), hand_rows(7, range(30, 35), zone=1),
        [r | {"sku": "111", "count": 1} for r in hand_rows(7, range(35, 45))],
        hand_rows(7, range(35, 45), sku="333", count=1),
    )
    assert events_of(hands) == [("7", "pick", "111", 1, "A1"), ("7", "pick", "333", 1, "A2")]


def test_timeline_running_cart():
    hands = table(hand_rows(7, range(0, 10)), hand_rows(7, range(10, 15), zone=0),
                  hand_rows(7, range(15, 30), sku="111", count=1), hand_rows(7, range(30, 35), zone=0),
                  hand_rows(7, range(35, 45)))
    events, _ = decide_events(hands, ZONES, camera="cam0", start_timestamp=0.0, fps=10.0, config=CONFIG)
    (timeline,) = build_timelines(events)
    assert [e.action for e in timeline.events] == ["pick", "return"]
    assert timeline.carts() == [{"111": 1}, {}]
    assert timeline.final_cart == {}
