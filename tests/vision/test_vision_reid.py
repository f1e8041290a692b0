"""Identity repair: a track id that swapped shoppers at a contact is given back by the shoppers' colours."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pandas as pd
import pytest

from vision.reid import ReidConfig, bhattacharyya, describe, repair_identities

RED, BLUE, GREEN = (0, 0, 220), (220, 60, 0), (40, 200, 40)
FPS = 10.0


def walk(colours: dict[int, tuple], paths: dict[int, list], size=(200, 420)):
    """Draw shoppers (40 x 80 px boxes) on a grey floor; return per-row frames, who, boxes, descriptors."""
    frames, who, boxes, descriptors = [], [], [], []
    length = max(len(p) for p in paths.values())
    for f in range(length):
        image = np.full((*size, 3), 128, np.uint8)
        rows = []
        for shopper, path in paths.items():
            if f < len(path) and path[f] is not None:
                x = path[f]
                box = np.array([x, 60, x + 40, 140], float)
                cv2.rectangle(image, (int(x), 60), (int(x) + 40, 140), colours[shopper], -1)
                rows.append((shopper, box))
        if rows:
            xyxy = np.array([b for _, b in rows])
            descriptors.append(describe(image, xyxy, ReidConfig()))
            frames += [f] * len(rows)
            who += [s for s, _ in rows]
            boxes.append(xyxy)
    return np.array(frames), np.array(who), np.vstack(boxes), np.vstack(descriptors)


def crossing(n: int = 40):
    """Red walks right, blue walks left; they pass each other in the middle frames."""
    return {1: list(np.linspace(40, 340, n)), 2: list(np.linspace(340, 40, n))}


def swapped_after(frames, who, frame):
    """A tracker that exchanged the two shoppers' ids from ``frame`` on."""
    return np.where(frames >= frame, 3 - who, who)


def test_a_box_colour_is_its_histogram_peak_and_histograms_sum_to_one():
    image = np.full((100, 100, 3), 128, np.uint8)
    cv2.rectangle(image, (10, 10), (50, 90), RED, -1)
    cv2.rectangle(image, (60, 10), (95, 90), BLUE, -1)
    red, blue = describe(image, np.array([[10, 10, 50, 90], [60, 10, 95, 90]], float), ReidConfig())
    assert red.sum() == pytest.approx(1) and blue.sum() == pytest.approx(1)
    assert bhattacharyya(red, red) == pytest.approx(0, abs=1e-6)
    assert bhattacharyya(red, blue) > 0.9
    assert describe(image, np.empty((0, 4)), ReidConfig()).shape == (0, 64)
    outside = describe(image, np.array([[300, 300, 350, 380]], float), ReidConfig())
    assert np.allclose(outside, 1 / 64)  # nothing to see: uniform, not a crash


def test_ids_exchanged_when_two_shoppers_cross_are_given_back():
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, crossing())
    tracked = swapped_after(frames, who, 20)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert len(swaps) == 1
    # Each shopper carries one id from start to end (the pivot lands inside the contact).
    outside_contact = (frames < 15) | (frames > 25)
    for shopper in (1, 2):
        assert len(set(labels[(who == shopper) & outside_contact])) == 1
    assert labels[(who == 1) & (frames < 10)][0] == 1  # ids keep their first owner
    # One id never has two boxes in one frame.
    assert not pd.DataFrame({"f": frames, "id": labels}).duplicated().any()


def standing_together(n: int = 60):
    """Red and blue stand side by side (boxes overlapping) from frame 15 to 45, then walk apart."""
    red = [100.0 if 15 <= f < 45 else 100.0 - 8 * (15 - f) if f < 15 else 100.0 - 8 * (f - 44) for f in range(n)]
    blue = [120.0 if 15 <= f < 45 else 120.0 + 8 * (15 - f) if f < 15 else 120.0 + 8 * (f - 44) for f in range(n)]
    return {1: red, 2: blue}


def test_a_swap_inside_a_long_contact_is_repaired_from_the_frame_it_happened():
    # The tracker exchanged the ids at frame 20, early in a contact of 3 s: the boxes between the swap
    # and the contact's middle belong to the shopper whose colours they show, not to the tracker's id.
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, standing_together())
    tracked = swapped_after(frames, who, 20)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert np.array_equal(labels, who)
    assert [(s.frame, s.renamed) for s in swaps] == [(20, ((1, 2), (2, 1)))]
    assert swaps[0].repaired < swaps[0].kept


def test_ids_exchanged_and_exchanged_back_within_one_contact_are_repaired_in_between():
    # While the two stand together the tracker swaps them at frame 20 and back at 35: they leave with
    # the right ids, but every pick in between would have been billed to the other shopper.
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, standing_together())
    tracked = np.where((frames >= 20) & (frames < 35), 3 - who, who)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert np.array_equal(labels, who)
    assert [(s.frame, s.renamed) for s in swaps] == [(20, ())]


def test_a_flicker_of_the_tracker_is_not_worth_a_rename():
    # One frame exchanged in the middle of the contact: too little evidence against the switch cost.
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, standing_together())
    tracked = np.where(frames == 30, 3 - who, who)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert swaps == [] and np.array_equal(labels, tracked)


def test_a_tracker_that_kept_the_ids_right_is_left_alone():
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, crossing())
    labels, swaps = repair_identities(frames, who, boxes, descriptors, FPS, ReidConfig())
    assert swaps == [] and np.array_equal(labels, who)


def test_look_alikes_are_not_swapped_on_a_guess():
    frames, who, boxes, descriptors = walk({1: RED, 2: RED}, crossing())
    tracked = swapped_after(frames, who, 20)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert swaps == [] and np.array_equal(labels, tracked)


def test_a_track_that_slid_onto_the_shopper_of_a_track_that_ended_takes_that_tracks_id():
    # Red stands at x=100 and is hidden from frame 20; blue walks in and stops beside it at x=120.
    # The tracker follows blue with id 2 until frame 22, then its id 1 (red's) jumps onto blue.
    n = 45
    red = [100.0 if f < 20 else None for f in range(n)]
    blue = [None] * 10 + list(np.linspace(300, 120, 10)) + [120.0] * (n - 20)
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, {1: red, 2: blue})
    tracked = np.where((who == 2) & (frames > 22), 1, who)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert len(swaps) == 1 and swaps[0].frame == 23
    assert set(labels[who == 2]) == {2} and set(labels[who == 1]) == {1}


def test_an_id_that_slid_onto_a_shopper_walking_past_is_split_off_at_the_change_of_colours():
    # Red stands at x=100 until frame 24 and leaves; blue, never tracked on its own, walks in over
    # it and stays. The tracker's id 1 follows red, then blue: no other track, no contact to repair.
    n = 50
    red = [100.0 if f < 25 else None for f in range(n)]
    blue = [None] * 24 + [100.0] * (n - 24)
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, {1: red, 2: blue})
    keep = ~((frames == 24) & (who == 1))  # one box per frame, as the tracker had it
    frames, who, boxes, descriptors = frames[keep], who[keep], boxes[keep], descriptors[keep]
    tracked = np.ones(len(frames), dtype=int)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert set(labels[who == 1]) == {1}
    assert len(set(labels[who == 2])) == 1 and set(labels[who == 2]) != {1}
    assert [s.frame for s in swaps] == [24]


def test_an_id_that_flickers_between_two_shoppers_before_sliding_is_split_where_the_flicker_starts():
    # Red stands until frame 39; blue walks in at 30. The tracker's one id jumps between them every
    # frame from 30 to 39, then stays on blue: split at 30, red's boxes keep id 1, blue's after get one new id.
    n = 80
    red = [100.0 if f < 40 else None for f in range(n)]
    blue = [None] * 30 + [100.0] * (n - 30)
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, {1: red, 2: blue})
    keep = ~((frames >= 30) & (frames < 40) & (who == np.where(frames % 2 == 0, 2, 1)))
    frames, who, boxes, descriptors = frames[keep], who[keep], boxes[keep], descriptors[keep]
    labels, swaps = repair_identities(frames, np.ones(len(frames), dtype=int), boxes, descriptors, FPS, ReidConfig())
    assert [(s.frame, s.kind) for s in swaps] == [(30, "split")]
    assert set(labels[frames < 30]) == {1}
    assert len(set(labels[frames >= 40])) == 1 and set(labels[frames >= 40]) != {1}


def test_a_shopper_whose_shirt_is_briefly_covered_keeps_one_id():
    # Blue walks through red's box for a few frames: red's colours are mixed for a moment only.
    n = 50
    red = [100.0] * n
    blue = [None] * 20 + [100.0] * 4 + [None] * (n - 24)
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, {1: red, 2: blue})
    labels, swaps = repair_identities(frames, who, boxes, descriptors, FPS, ReidConfig())
    assert swaps == [] and np.array_equal(labels, who)


def test_a_shopper_lost_for_a_moment_and_found_again_gets_their_old_id_back():
    # Red is hidden for 0.8 s; the tracker finds it again under a new id 3. Blue, elsewhere, keeps 2.
    n = 50
    red = [100.0 if not 20 <= f < 28 else None for f in range(n)]
    blue = [300.0] * n
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, {1: red, 2: blue})
    tracked = np.where((who == 1) & (frames >= 28), 3, who)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert np.array_equal(labels, who)
    assert [(s.frame, s.renamed) for s in swaps] == [(28, ((3, 1),))]
    labels, _ = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig(relink_gap_s=0))
    assert np.array_equal(labels, tracked)


def test_a_track_that_starts_as_the_lost_shopper_but_turns_into_another_is_not_relinked():
    # Red is lost at frame 20; a new track starts on red at 25 and slides onto blue at 35 (a change
    # the split missed: splitting is off here). Most of it is blue: not red's continuation.
    n = 70
    red = [100.0 if f < 20 or 25 <= f < 35 else None for f in range(n)]
    blue = [None] * 35 + [100.0] * (n - 35)
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, {1: red, 2: blue})
    tracked = np.where(frames >= 25, 2, 1)
    no_split = ReidConfig(break_local=1.01)
    labels, _ = repair_identities(frames, tracked, boxes, descriptors, FPS, no_split)
    assert np.array_equal(labels, tracked)
    labels, _ = repair_identities(frames, tracked, boxes, descriptors, FPS, replace(no_split, relink_whole=1.0))
    assert set(labels) == {1}  # judged on its first second alone, it was relinked


def test_another_shopper_appearing_where_one_left_is_not_given_their_id():
    n = 50
    red = [100.0 if f < 20 else None for f in range(n)]
    blue = [None] * 24 + [100.0] * (n - 24)
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, {1: red, 2: blue})
    labels, swaps = repair_identities(frames, who, boxes, descriptors, FPS, ReidConfig())
    assert swaps == [] and np.array_equal(labels, who)


def test_repair_can_be_switched_off():
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, crossing())
    tracked = swapped_after(frames, who, 20)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig(enabled=False))
    assert swaps == [] and np.array_equal(labels, tracked)


def test_three_shoppers_only_the_crossing_pair_is_repaired():
    n = 40
    paths = {**crossing(n), 3: [200.0] * n}
    # Green stands still below the crossing pair: far enough not to touch them.
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE, 3: GREEN}, paths, size=(400, 420))
    low = who == 3
    boxes[low] += [0, 200, 0, 200]
    tracked = np.where(low, 3, swapped_after(frames, who, 20))
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert [s.renamed for s in swaps] == [((1, 2), (2, 1))]
    assert set(labels[low]) == {3}


def test_three_shoppers_bunched_together_get_their_ids_back_whatever_the_permutation():
    # Red and blue cross while green stands where they meet: one three-way contact. The tracker
    # came out of it with the ids rotated (red had 1 and leaves with 2, blue 2 -> 3, green 3 -> 1).
    n = 40
    paths = {**crossing(n), 3: [190.0] * n}
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE, 3: GREEN}, paths)
    tracked = np.where(frames >= 20, who % 3 + 1, who)
    labels, swaps = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig())
    assert len(swaps) == 1
    outside_contact = (frames < 12) | (frames > 28)
    for shopper in (1, 2, 3):
        assert set(labels[(who == shopper) & outside_contact]) == {shopper}
    assert not pd.DataFrame({"f": frames, "id": labels}).duplicated().any()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="centre_fraction"):
        ReidConfig(centre_fraction=0)
    with pytest.raises(ValueError, match="bins"):
        ReidConfig(hue_bins=0)
    with pytest.raises(ValueError, match="max_decoded"):
        ReidConfig(max_decoded=9)


def test_a_contact_of_more_tracks_than_decoded_still_repairs_the_busiest_ones():
    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, standing_together())
    tracked = swapped_after(frames, who, 20)
    labels, _ = repair_identities(frames, tracked, boxes, descriptors, FPS, ReidConfig(max_decoded=2))
    assert np.array_equal(labels, who)


def test_hand_owners_follow_the_renamed_tracks():
    from walkout.config import PipelineConfig
    from walkout.stages import _repair_identities

    frames, who, boxes, descriptors = walk({1: RED, 2: BLUE}, crossing())
    tracked = swapped_after(frames, who, 20)
    tracks = pd.DataFrame({"frame": frames, "track_id": tracked, "x1": boxes[:, 0], "y1": boxes[:, 1],
                           "x2": boxes[:, 2], "y2": boxes[:, 3], "confidence": 0.9})
    # Each shopper's hand, owned (as the tracker said) by the id the shopper's box carried.
    hands = pd.DataFrame({"frame": frames, "owner": tracked, "x": boxes[:, 2], "y": boxes[:, 3],
                          "zone": -1, "sku": "", "count": 0, "sku_confidence": 0.0, "shopper": who})
    new_tracks, new_hands, repairs = _repair_identities(tracks, hands, descriptors, FPS, PipelineConfig(), "cam0.mp4")
    assert len(repairs) == 1 and sorted(map(tuple, repairs[0]["renamed"])) == [(1, 2), (2, 1)]
    assert np.array_equal(new_hands["owner"].to_numpy(), new_tracks["track_id"].to_numpy())
    late = new_hands["frame"] > 30
    assert set(new_hands.loc[late & (new_hands["shopper"] == 1), "owner"]) == {1}


def test_a_tracks_look_is_its_colours_weighted_towards_boxes_that_overlap_no_one():
    """track_looks: one look per track (kept in memory for the store-level shoppers); a box half covered
    by another shopper's shows a mixture, so it counts for little."""
    from vision.reid import track_looks

    config = ReidConfig()
    red, blue = (describe(np.full((80, 40, 3), c, np.uint8), np.array([[0, 0, 40, 80]], float), config)[0]
                 for c in (RED, BLUE))
    frames = np.array([0, 1, 2, 2])
    ids = np.array([1, 1, 1, 2])
    xyxy = np.array([[0, 0, 40, 80], [0, 0, 40, 80], [0, 0, 40, 80], [10, 0, 50, 80]], float)
    # Track 1 looks red twice on its own, then blue-ish in frame 2 where track 2 covers it.
    descriptors = np.vstack([red, red, blue, blue])
    looks = track_looks(frames, ids, xyxy, descriptors)
    assert set(looks) == {1, 2}
    assert np.isclose(looks[1].sum(), 1.0) and np.isclose(looks[2].sum(), 1.0)
    plain_mean = descriptors[:3].mean(axis=0)  # blue a third of it: 0.43 from red
    assert bhattacharyya(looks[1], red) < 0.2 < 0.9 < bhattacharyya(looks[1], blue)
    assert bhattacharyya(looks[1], red) < bhattacharyya(plain_mean, red) - 0.2
    assert bhattacharyya(looks[2], blue) < 1e-6  # its only box
