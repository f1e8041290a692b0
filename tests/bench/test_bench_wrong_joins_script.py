"""benchmarks/wrong_joins.py: which tracklets the store join put into another person's shopper, and the pair
of tracklets that brought each one in."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from vision.shoppers import ShopperConfig, Tracklet, scored_pairs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import wrong_joins  # noqa: E402  (benchmarks/ is not a package)

T0 = 1_700_000_000.0


def walk(camera: str, track: int, start: float, end: float, x0: float, x1: float, y: float = 0.0) -> Tracklet:
    """A tracklet seen every 0.1 s from ``start`` to ``end`` (s), walking from x0 to x1 (m) along y."""
    t = np.arange(start, end + 1e-9, 0.1)
    return Tracklet(camera, track, T0 + t, np.column_stack([np.linspace(x0, x1, len(t)), np.full(len(t), y)]))


def scored_at(tracklets, probability: dict[str, float]):
    """The pairs the join scores, every pair of a kind given the same P(same)."""
    _, scored = scored_pairs(tracklets, ShopperConfig())
    return scored, {kind: np.full(len(pairs), probability[kind]) for kind, (pairs, _) in scored.items()}


def joins(tracklets, carried, shoppers, probability: dict[str, float]):
    return wrong_joins.wrong_joins("rec", tracklets, carried, shoppers, *scored_at(tracklets, probability))


def test_a_clean_track_of_someone_else_continuing_the_shopper_is_a_gap_join():
    # Person 1 seen by two cameras for 5 s; person 2 appears 1 s later a step away and is joined in.
    tracklets = [walk("cam0", 1, 0, 5, 0.0, 2.0), walk("cam1", 1, 0, 5, 0.0, 2.0), walk("cam2", 4, 6, 9, 2.5, 3.5)]
    carried = [{"1": 50}, {"1": 50}, {"2": 30}]
    found = joins(tracklets, carried, ["1", "1", "1"], {"together": 0.9, "gap": 0.3})
    assert [(j.camera, j.track, j.person, j.main, j.kind, j.purity, j.partner_carried) for j in found] == [
        ("cam2", 4, "2", "1", "gap", 1.0, 0)]
    assert found[0].probability == 0.3
    assert np.isclose(found[0].gap_s, 1.0) and np.isclose(found[0].distance_m, 0.5)


def test_a_track_that_carries_two_people_is_linked_by_its_part_on_the_main_one():
    # cam2's track is on person 2 for 30 boxes and on person 1 for 20: seen with person 1's tracks at once.
    tracklets = [walk("cam0", 1, 0, 5, 0.0, 2.0), walk("cam1", 1, 0, 5, 0.0, 2.0), walk("cam2", 3, 0, 5, 0.1, 2.1)]
    carried = [{"1": 45, "2": 5}, {"1": 50}, {"2": 30, "1": 20}]
    found = joins(tracklets, carried, ["1", "1", "1"], {"together": 0.8, "gap": 0.3})
    assert [(j.track, j.kind, j.purity, j.probability) for j in found] == [(3, "together", 0.6, 0.8)]
    assert found[0].partner_carried == 5  # the strongest pair's main-person track: cam0's, the first of the tie
    assert np.isclose(found[0].distance_m, 0.1)


def test_people_in_their_own_shoppers_and_unmatched_tracks_are_no_wrong_join():
    tracklets = [walk("cam0", 1, 0, 5, 0.0, 2.0), walk("cam1", 2, 0, 5, 4.0, 6.0), walk("cam2", 5, 0, 5, 0.0, 2.0)]
    found = joins(tracklets, [{"1": 50}, {"2": 50}, {}], ["1", "2", "1"], {"together": 0.9, "gap": 0.3})
    assert found == []


def test_a_track_with_no_scored_pair_to_the_main_person_came_in_chained():
    # Person 3 is seen 40 s after person 1 left (beyond any gap the join compares), yet in the same shopper.
    tracklets = [walk("cam0", 1, 0, 5, 0.0, 2.0), walk("cam1", 1, 0, 5, 0.0, 2.0), walk("cam2", 9, 45, 50, 2.0, 2.5)]
    found = joins(tracklets, [{"1": 50}, {"1": 50}, {"3": 50}], ["1", "1", "1"], {"together": 0.9, "gap": 0.3})
    assert [(j.track, j.kind) for j in found] == [(9, "chained")]
    assert np.isnan(found[0].probability) and np.isnan(found[0].distance_m)


def test_the_summary_counts_boxes_per_kind_and_keeps_pure_and_long_ones_apart():
    found = pd.DataFrame([
        {"kind": "gap", "boxes": 40, "purity": 1.0, "probability": 0.2},
        {"kind": "gap", "boxes": 10, "purity": 0.5, "probability": 0.4},
        {"kind": "together", "boxes": 60, "purity": 0.6, "probability": 0.9},
    ])
    table = wrong_joins.summary(found, total_boxes=1000, min_boxes=30).set_index("kind")
    assert table.loc["gap", ["tracklets", "boxes", "pure boxes", "long boxes"]].tolist() == [2, 50, 40, 40]
    assert np.isclose(table.loc["gap", "share of boxes"], 0.05) and np.isclose(table.loc["gap", "median P(same)"], 0.3)
    assert table.loc["together", ["tracklets", "pure boxes", "long boxes"]].tolist() == [1, 0, 60]
    assert table.loc["chained", "tracklets"] == 0


def test_a_recording_without_kept_cameras_is_left_out_with_a_warning(tmp_path, capsys, caplog):
    run = tmp_path / "acc" / "store" / "kept" / "seed1"
    run.mkdir(parents=True)
    (run / "run.json").write_text("{}")
    wrong_joins.main([str(tmp_path / "acc" / "store"), "--cache", str(tmp_path / "cache")])
    assert "seed1.pkl: no kept cameras" in caplog.text
    printed = capsys.readouterr().out
    assert "together" in printed and "chained" in printed and "unscored" in printed


def pieces(tracklets, carried, shoppers, probability: dict[str, float]):
    return wrong_joins.split_pieces("rec", tracklets, carried, shoppers, *scored_at(tracklets, probability))


def test_a_persons_tracklets_left_in_shoppers_of_their_own_are_split_pieces_with_the_closest_pair():
    # Person 1: seen by cam0 (their own shopper "1", most boxes), by cam1 at the same time (left alone in "2")
    # and again 40 s later by cam2 (beyond any gap the join compares: "3").
    tracklets = [walk("cam0", 1, 0, 5, 0.0, 2.0), walk("cam1", 1, 0, 5, 0.05, 2.05), walk("cam2", 7, 45, 50, 2.0, 2.5)]
    found = pieces(tracklets, [{"1": 50}, {"1": 20}, {"1": 30}], ["1", "2", "3"], {"together": 0.7, "gap": 0.3})
    assert [(p.shopper, p.camera, p.person, p.own_shopper, p.kind) for p in found] == [
        ("2", "cam1", "1", "1", "together"), ("3", "cam2", "1", "1", "unscored")]
    assert found[0].probability == 0.7 and np.isclose(found[0].distance_m, 0.05)
    assert np.isnan(found[1].probability)


def test_a_wrong_join_is_not_a_split_piece():
    # Person 2's track joined into person 1's shopper is a wrong join, not a piece of person 2 left apart.
    tracklets = [walk("cam0", 1, 0, 5, 0.0, 2.0), walk("cam1", 1, 0, 5, 0.0, 2.0), walk("cam2", 4, 6, 9, 2.5, 3.5),
                 walk("cam3", 2, 6, 9, 2.5, 3.5)]
    carried = [{"1": 50}, {"1": 50}, {"2": 30}, {"2": 40}]
    assert pieces(tracklets, carried, ["1", "1", "1", "2"], {"together": 0.9, "gap": 0.3}) == []


def test_the_split_summary_counts_pieces_and_boxes_per_kind():
    found = pd.DataFrame([{"kind": "gap", "boxes": 20, "probability": 0.1}, {"kind": "gap", "boxes": 10, "probability": 0.3},
                          {"kind": "unscored", "boxes": 5, "probability": float("nan")}])
    table = wrong_joins.split_summary(found, total_boxes=100).set_index("kind")
    assert table.loc["gap", ["pieces", "boxes"]].tolist() == [2, 30]
    assert np.isclose(table.loc["gap", "share of boxes"], 0.3) and np.isclose(table.loc["gap", "median P(same)"], 0.2)
    assert table.loc["together", "pieces"] == 0 and table.loc["unscored", "boxes"] == 5


def test_one_cameras_tracklets_seen_together_briefly_are_brief_pairs_with_what_the_join_made_of_them():
    # cam0's track 2 began on person 1 0.2 s before track 1 let them go (joined); tracks 3 and 4, two people 0.5 m
    # apart, are seen together for 1 s (kept apart); track 5 is seen with track 3 for 2.5 s: not brief; cam1's
    # track is another camera's.
    tracklets = [walk("cam0", 1, 0, 3, 0.0, 1.5), walk("cam0", 2, 2.8, 6, 1.4, 3.0), walk("cam0", 3, 10, 14, 5.0, 5.0),
                 walk("cam0", 4, 13, 20, 5.0, 5.0, y=0.5), walk("cam0", 5, 10, 12.5, 8.0, 8.0), walk("cam1", 9, 0, 3, 0.0, 1.5)]
    carried = [{"1": 30}, {"1": 30}, {"2": 40}, {"3": 60}, {"4": 25}, {"1": 30}]
    found = wrong_joins.brief_pairs("rec", tracklets, carried, ["1", "1", "2", "3", "4", "1"], brief_s=2.0)
    assert [(b.camera, b.tracks, b.one_person, b.joined) for b in found] == [("cam0", "1+2", True, True),
                                                                           ("cam0", "3+4", False, False)]
    assert np.isclose(found[0].together_s, 0.2) and found[0].distance_m < 0.05
    assert np.isclose(found[1].together_s, 1.0) and np.isclose(found[1].distance_m, 0.5)
    table = wrong_joins.brief_summary(pd.DataFrame([b.__dict__ for b in found])).set_index("distance (m)")
    assert table.loc["0-0.2"].tolist() == [1, 1, 0, 0]
    assert table.loc["0.4-0.6"].tolist() == [0, 0, 1, 0]
    assert table.loc["> 0.6", "two people"] == 0
