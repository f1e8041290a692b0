"""Events are changes in what a shopper holds, located at the shelf zone their hand reached.

A hand table row: (frame, owner, x, y, zone, sku, count, sku_confidence). Clips are 10 fps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from formats.tables import HAND_COLUMNS, REACH_COLUMNS
from vision.events import (
    EventConfig,
    debounce,
    decide_events,
    find_reaches,
    find_visits,
    held_counts,
    seconds_to_frames,
)
from vision.timeline import build_timelines
from vision.zones import ShelfZone

ZONES = (
    ShelfZone("A1", (1, 2), ((0, 0), (100, 0), (100, 50), (0, 50))),
    ShelfZone("A2", (3,), ((100, 0), (200, 0), (200, 50), (100, 50))),
)
PLANOGRAM = {("A1", 1): "111", ("A1", 2): "111", ("A2", 3): "333"}
CONFIG = EventConfig(min_state_s=0.4, merge_s=0.6, evidence_window_s=0.5, min_seen_share=0.5,
                     reach_window_s=1.0, max_gap_s=0.2, min_visit_s=0.3)


def hand_rows(owner: int, frames: range, *, zone: int = -1, sku: str = "", count: int = 0,
              confidence: float = 0.9) -> list[dict]:
    return [
        {"frame": f, "owner": owner, "x": 50.0, "y": 25.0 if zone >= 0 else 200.0, "zone": zone,
         "sku": sku, "count": count, "sku_confidence": confidence}
        for f in frames
    ]


def table(*parts: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([row for part in parts for row in part], columns=list(HAND_COLUMNS))


def events_of(hands: pd.DataFrame, config: EventConfig = CONFIG):
    events, _ = decide_events(hands, ZONES, camera="cam0", start_timestamp=1000.0, fps=10.0,
                              planogram=PLANOGRAM, config=config)
    return [(e.shopper, e.action, e.sku, e.quantity, e.shelf) for e in events]


def reach_and_take(owner: int, start: int, *, zone: int, sku: str, count: int = 1) -> list[dict]:
    """Empty-handed for 10 frames, hand in a zone for 5, then holding for 15."""
    return (hand_rows(owner, range(start, start + 10)) + hand_rows(owner, range(start + 10, start + 15), zone=zone)
            + hand_rows(owner, range(start + 15, start + 30), sku=sku, count=count))


def test_no_hands_no_events():
    assert events_of(table()) == []


def test_empty_then_holding_after_a_reach_is_a_pick():
    assert events_of(table(reach_and_take(7, 0, zone=0, sku="111"))) == [("7", "pick", "111", 1, "A1")]


def test_the_pick_is_timed_at_the_last_frame_the_hand_was_in_the_zone():
    events, _ = decide_events(table(reach_and_take(7, 0, zone=0, sku="111")), ZONES, camera="cam0",
                              start_timestamp=1000.0, fps=10.0, planogram=PLANOGRAM, config=CONFIG)
    assert events[0].frame == 14
    assert events[0].timestamp == pytest.approx(1000.0 + 14 / 10)


def test_two_items_in_one_grab_is_quantity_two():
    assert events_of(table(reach_and_take(7, 0, zone=1, sku="333", count=2))) == [("7", "pick", "333", 2, "A2")]


def test_holding_before_and_empty_after_a_reach_is_a_return_where_it_was_put():
    hands = table(hand_rows(9, range(0, 10), sku="333", count=1), hand_rows(9, range(10, 15), zone=0),
                  hand_rows(9, range(15, 30)))
    # 333 belongs on A2; it was put on A1: the event names A1.
    assert events_of(hands) == [("9", "return", "333", 1, "A1")]


def test_holding_something_new_without_any_reach_is_no_event():
    hands = table(hand_rows(7, range(0, 15)), hand_rows(7, range(15, 30), sku="111", count=1))
    assert events_of(hands) == []


def test_a_hand_passing_over_a_zone_without_taking_anything_is_no_event():
    hands = table(hand_rows(7, range(0, 10)), hand_rows(7, range(10, 12), zone=0), hand_rows(7, range(12, 30)))
    assert events_of(hands) == []


def test_a_product_flickering_out_of_view_is_no_return():
    rows = reach_and_take(7, 0, zone=0, sku="111")
    rows += hand_rows(7, range(30, 32), zone=0)  # the hand passes a zone while the item is hidden ...
    rows += hand_rows(7, range(32, 45), sku="111", count=1)  # ... and it is seen again
    assert events_of(table(rows)) == [("7", "pick", "111", 1, "A1")]


def test_an_unreadable_product_is_named_by_the_planogram_of_the_zone_reached():
    rows = hand_rows(7, range(0, 10)) + hand_rows(7, range(10, 15), zone=1)
    rows += hand_rows(7, range(15, 30), sku="999", count=1, confidence=0.2)
    assert events_of(table(rows)) == [("7", "pick", "333", 1, "A2")]


def test_two_shoppers_at_one_shelf_each_get_their_own_event():
    hands = table(reach_and_take(7, 0, zone=0, sku="111"), reach_and_take(9, 2, zone=0, sku="111"))
    assert sorted(events_of(hands)) == [("7", "pick", "111", 1, "A1"), ("9", "pick", "111", 1, "A1")]


def test_a_second_pick_while_holding_the_first_counts_only_the_new_item():
    rows = reach_and_take(7, 0, zone=0, sku="111")
    rows += [r | {"zone": 1} for r in hand_rows(7, range(30, 35), sku="111", count=1)]
    rows += hand_rows(7, range(35, 50), sku="111", count=1) + hand_rows(7, range(35, 50), sku="333", count=1)
    assert events_of(table(rows)) == [("7", "pick", "111", 1, "A1"), ("7", "pick", "333", 1, "A2")]


def test_stacked_shelves_the_product_decides_which_shelf_was_reached():
    # From the ceiling, shelf A2 (upper) and A1 (lower) overlap in the image: the hand touched both.
    stacked = (
        ShelfZone("A1", (1,), ((0, 0), (100, 0), (100, 50), (0, 50))),
        ShelfZone("A2", (3,), ((0, 20), (100, 20), (100, 80), (0, 80))),
    )
    rows = hand_rows(7, range(0, 10)) + hand_rows(7, range(10, 13), zone=0) + hand_rows(7, range(13, 15), zone=1)
    rows += hand_rows(7, range(15, 30), sku="333", count=1)
    events, _ = decide_events(table(rows), stacked, camera="cam0", start_timestamp=0.0, fps=10.0,
                              planogram=PLANOGRAM, config=CONFIG)
    assert [(e.sku, e.shelf, e.plates) for e in events] == [("333", "A2", "3")]


def test_two_items_seen_one_after_the_other_are_one_grab_of_two():
    rows = hand_rows(7, range(0, 10)) + hand_rows(7, range(10, 15), zone=0)
    rows += hand_rows(7, range(15, 20), sku="111", count=1) + hand_rows(7, range(20, 35), sku="111", count=2)
    assert events_of(table(rows)) == [("7", "pick", "111", 2, "A1")]


def test_timeline_running_cart():
    rows = reach_and_take(7, 0, zone=0, sku="111") + hand_rows(7, range(30, 35), zone=0) + hand_rows(7, range(35, 50))
    events, _ = decide_events(table(rows), ZONES, camera="cam0", start_timestamp=0.0, fps=10.0,
                              planogram=PLANOGRAM, config=CONFIG)
    (timeline,) = build_timelines(events)
    assert [e.action for e in timeline.events] == ["pick", "return"]
    assert timeline.carts() == [{"111": 1}, {}]
    assert timeline.final_cart == {}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        ([0, 0, 0, 0], [0, 0, 0, 0]),
        ([0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]),  # a one-frame blip is no state
        ([0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1]),
        ([1, 0, 0, 0, 0], [0, 0, 0, 0, 0]),  # the first stable value back-fills the start
    ],
)
def test_debounce(values, expected):
    assert debounce(np.array(values, dtype=int), 3).tolist() == expected


def test_held_counts_trust_an_item_seen_in_part_of_the_window():
    config = EventConfig(evidence_window_s=0.5, min_seen_share=0.4)
    observed = np.array([0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0])
    held = held_counts(observed, config, fps=10.0)
    assert held[7] == 1 and held[9] == 1  # seen 2 of 5 frames around them: held
    assert held[0] == 0 and held[-1] == 0


def test_visits_bridge_a_hand_hidden_inside_the_shelf():
    config = EventConfig(min_visit_s=0.2, max_gap_s=1.2)
    rows = hand_rows(7, range(0, 10)) + hand_rows(7, range(10, 12), zone=0)  # enters, then hidden 10 frames
    rows += hand_rows(7, range(22, 24), zone=0) + hand_rows(7, range(24, 34), sku="111", count=1)
    assert [(v.start_frame, v.end_frame) for v in find_visits(table(rows), config, fps=10.0)] == [(10, 23)]


def test_durations_are_seconds_giving_the_old_frame_counts_at_10_fps():
    defaults = EventConfig()
    frames_at_10_fps = {"min_state_s": 6, "min_drop_s": 20, "merge_s": 12, "evidence_window_s": 15,
                        "reach_window_s": 25, "max_gap_s": 12, "min_visit_s": 2, "sku_window_s": 15}
    assert {name: seconds_to_frames(getattr(defaults, name), 10.0) for name in frames_at_10_fps} == frames_at_10_fps
    assert seconds_to_frames(0.3, 10.0) == 3  # 0.3 * 10 is 2.9999999999999996: rounded, not cut
    assert seconds_to_frames(defaults.max_gap_s, 30.0) == 36


def test_a_hand_hidden_for_one_second_is_bridged_at_30_fps_as_at_10_fps():
    config = EventConfig(min_visit_s=0.2, max_gap_s=1.2)
    at_10_fps = hand_rows(7, range(10, 12), zone=0) + hand_rows(7, range(22, 24), zone=0)  # hidden 1 s
    at_30_fps = hand_rows(7, range(30, 36), zone=0) + hand_rows(7, range(66, 72), zone=0)  # hidden 1 s
    assert [(v.start_frame, v.end_frame) for v in find_visits(table(at_10_fps), config, fps=10.0)] == [(10, 23)]
    assert [(v.start_frame, v.end_frame) for v in find_visits(table(at_30_fps), config, fps=30.0)] == [(30, 71)]
    # The same frame numbers at 10 fps are 3 s apart: two visits.
    assert len(find_visits(table(at_30_fps), config, fps=10.0)) == 2


def test_a_negative_duration_is_refused():
    with pytest.raises(ValueError, match="merge_s = -1"):
        EventConfig(merge_s=-1.0)


def test_a_new_product_on_top_of_a_full_hand_is_a_pick_even_if_the_count_stays():
    # The classifier names one product per hand: after the second pick the hand shows 333, not 111+333.
    rows = reach_and_take(7, 0, zone=0, sku="111")
    rows += [r | {"zone": 1} for r in hand_rows(7, range(30, 35), sku="111", count=1)]
    rows += hand_rows(7, range(35, 50), sku="333", count=1)
    assert events_of(table(rows)) == [("7", "pick", "111", 1, "A1"), ("7", "pick", "333", 1, "A2")]


def test_a_product_the_reached_shelf_does_not_stock_is_no_pick_without_a_count_change():
    rows = reach_and_take(7, 0, zone=0, sku="111")
    rows += [r | {"zone": 0} for r in hand_rows(7, range(30, 35), sku="111", count=1)]
    rows += hand_rows(7, range(35, 50), sku="333", count=1)  # 333 is stocked on A2 only
    assert events_of(table(rows)) == [("7", "pick", "111", 1, "A1")]


def test_reaches_name_who_was_in_which_zone_and_when_on_the_shared_clock():
    in_a2 = [{**row, "x": 150.0} for row in hand_rows(2, range(20, 26), zone=1)]
    hands = table(hand_rows(1, range(0, 10)), hand_rows(1, range(10, 15), zone=0), in_a2)
    reaches = find_reaches(hands, ZONES, camera="cam0", start_timestamp=1000.0, fps=10.0, config=CONFIG)
    assert list(reaches.columns) == list(REACH_COLUMNS)
    rows = [tuple(r) for r in reaches.itertuples(index=False)]
    assert rows == [("cam0", "1", "A1", "1;2", 1001.0, 1001.4, 5), ("cam0", "2", "A2", "3", 1002.0, 1002.5, 6)]


def test_a_hand_inside_overlapping_zones_reaches_them_all():
    stacked = (*ZONES, ShelfZone("B1", (1,), ((0, 0), (100, 0), (100, 100), (0, 100))))
    hands = table(hand_rows(1, range(10, 15), zone=0))  # x, y = 50, 25: inside A1 and B1
    reaches = find_reaches(hands, stacked, camera="cam0", start_timestamp=0.0, fps=10.0, config=CONFIG)
    assert sorted(reaches["shelf"]) == ["A1", "B1"]


def test_a_reach_bridges_a_short_gap_and_ignores_a_glimpse():
    hands = table(hand_rows(1, range(10, 14), zone=0), hand_rows(1, range(16, 19), zone=0),
                  hand_rows(2, range(30, 31), zone=0))
    reaches = find_reaches(hands, ZONES, camera="cam0", start_timestamp=0.0, fps=10.0, config=CONFIG)
    assert [(r.shopper, r.start, r.end, r.frames) for r in reaches.itertuples()] == [("1", 1.0, 1.8, 7)]
