"""benchmarks/switches.py: every stretch of a camera track on someone other than its main person, sorted
by whether the identity repair could have given it back (a swap of two tracks at a contact) or not."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from vision.reid import ReidConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import switches  # noqa: E402  (benchmarks/ is not a package)

FPS = 10.0
TRUTH_COLUMNS = ("frame", "object", "track_id", "sku", "x1", "y1", "x2", "y2", "visible")


def box_at(x: float) -> list[float]:
    return [x, 100.0, x + 40.0, 180.0]


def scene(paths: dict[int, list[float]], carried: dict[int, list[int]]):
    """Truth people walking along ``paths`` (person -> x per frame), and predicted tracks on them
    (track -> the person it is on, per frame): (tracks, truth)."""
    truth = pd.DataFrame([(f, "shopper", person, "", *box_at(x), 1.0) for person, xs in paths.items()
                          for f, x in enumerate(xs)], columns=list(TRUTH_COLUMNS))
    tracks = pd.DataFrame([(f, track, *box_at(paths[person][f])) for track, people in carried.items()
                           for f, person in enumerate(people)], columns=["frame", "track_id", "x1", "y1", "x2", "y2"])
    return tracks, truth


def kinds(tracks: pd.DataFrame, truth: pd.DataFrame) -> list[tuple[int, int, str]]:
    who = switches.truth_person(tracks, truth, 0.5)
    found = switches.camera_switches("rec", "cam0", tracks, who, FPS, ReidConfig())
    return sorted((s.track, s.boxes, s.kind) for s in found)


def test_two_tracks_that_exchange_their_people_at_a_contact_are_a_swap():
    # A walks right, B walks left; they meet at frame 20 and the tracker leaves with the ids exchanged.
    paths = {1: list(np.linspace(0, 400, 40)), 2: list(np.linspace(400, 0, 40))}
    tracks, truth = scene(paths, {1: [1] * 21 + [2] * 19, 2: [2] * 21 + [1] * 19})
    assert kinds(tracks, truth) == [(1, 19, "swap"), (2, 19, "swap")]


def test_a_track_that_moves_onto_someone_with_no_track_of_their_own_is_a_slide():
    # A stands still, then is hidden; C comes into view where A stood: the track moves onto C. No other
    # track touches it, and nobody followed C before.
    paths = {1: [100.0] * 40, 3: [104.0] * 40}
    tracks, truth = scene(paths, {1: [1] * 25 + [3] * 15})
    assert kinds(tracks, truth) == [(1, 15, "slide")]
    # The same beside another track that touches it but follows a third person: still not a swap.
    paths |= {4: [120.0] * 40}
    tracks, truth = scene(paths, {1: [1] * 25 + [3] * 15, 2: [4] * 40})
    assert kinds(tracks, truth) == [(1, 15, "slide at a contact")]


def test_a_track_that_stays_on_its_person_has_no_switch_and_unmatched_boxes_do_not_count():
    paths = {1: list(np.linspace(0, 400, 40))}
    tracks, truth = scene(paths, {1: [1] * 40})
    assert kinds(tracks, truth) == []
    tracks.loc[tracks["frame"] >= 30, "x1"] += 300  # off the person: matched to nobody (IoU < 0.5)
    who = switches.truth_person(tracks, truth, 0.5)
    assert (who[tracks["frame"].to_numpy() >= 30] == -1).all() and (who[tracks["frame"].to_numpy() < 30] == 1).all()
    assert kinds(tracks, truth) == []


def test_the_summary_counts_long_and_short_stretches_per_kind():
    found = [switches.Switch("r", "c", 1, 5, 12, "swap"), switches.Switch("r", "c", 2, 5, 3, "swap"),
             switches.Switch("r", "c", 3, 9, 40, "slide")]
    table = switches.summary(found, min_boxes=10).set_index(["kind", "stretches"])
    assert table.loc[("swap", "long"), "boxes"] == 12 and table.loc[("swap", "short"), "count"] == 1
    assert table.loc[("slide", "long"), "count"] == 1 and table.loc[("slide at a contact", "long"), "count"] == 0
