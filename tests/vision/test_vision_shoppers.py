"""Store-level shoppers: camera tracks joined on the floor into one id per shopper per visit.

The cameras of these tests are placed by a floor homography of 1 cm a pixel (pixel (u, v) is the
floor point (u / 100, v / 100) m), at 10 fps from T0. A track is given by its foot points in metres
per frame; its box is 40 x 80 px standing on that point.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from formats.store import Calibration, Camera
from vision.events import PickEvent
from vision.shoppers import ShopperConfig, floor_tracklets, shoppers_table, store_shoppers
from walkout.pipeline import merge_camera_events

T0 = 1_700_000_000.0
FPS = 10.0
CM_PER_PX = ((0.01, 0.0, 0.0), (0.0, 0.01, 0.0), (0.0, 0.0, 1.0))


def camera(cid: str, placed: bool = True) -> Camera:
    return Camera(cid, Path(f"videos/{cid}.mp4"), T0, floor_homography=CM_PER_PX if placed else None)


def track(track_id: int, frames: range, path) -> pd.DataFrame:
    """A track whose foot point at frame f is ``path(f)`` (metres)."""
    rows = []
    for f in frames:
        x, y = path(f)
        u, v = 100 * x, 100 * y
        rows.append((f, track_id, u - 20, v - 80, u + 20, v, 0.9))
    return pd.DataFrame(rows, columns=["frame", "track_id", "x1", "y1", "x2", "y2", "confidence"])


def tables(*tracks: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(tracks, ignore_index=True)


def run(tracks_by_camera: dict[str, pd.DataFrame], placed: bool = True, looks=None, **config):
    cameras = {c: camera(c, placed) for c in tracks_by_camera}
    return store_shoppers(tracks_by_camera, cameras, dict.fromkeys(tracks_by_camera, FPS), ShopperConfig(**config),
                          looks=looks)


def colours(peak: int) -> np.ndarray:
    """A look (colour histogram of 64 bins summing to 1) mostly in one bin."""
    look = np.full(64, 0.2 / 63)
    look[peak] = 0.8
    return look


def walking(x0: float, y: float, speed: float = 0.8):
    return lambda f: (x0 + speed * f / FPS, y)


def test_one_shopper_seen_by_two_cameras_is_one_shopper():
    shoppers = run({"cam0": track(1, range(0, 40), walking(1.0, 2.0)),
                    "cam1": track(7, range(20, 60), walking(1.02, 2.03))})
    assert shoppers.identity == "store"
    assert shoppers.shopper("cam0", 1) == shoppers.shopper("cam1", 7) == "1"


def test_two_shoppers_standing_together_stay_two_in_every_camera():
    left, right = (lambda f: (3.0, 2.0)), (lambda f: (3.45, 2.0))  # 45 cm apart, within link_m
    shoppers = run({"cam0": tables(track(1, range(50), left), track(2, range(50), right)),
                    "cam1": tables(track(5, range(50), right), track(6, range(50), left))})
    assert shoppers.shopper("cam0", 1) == shoppers.shopper("cam1", 6)
    assert shoppers.shopper("cam0", 2) == shoppers.shopper("cam1", 5)
    assert shoppers.shopper("cam0", 1) != shoppers.shopper("cam0", 2)


def test_one_shopper_boxed_twice_while_their_camera_began_a_new_track_is_one_shopper():
    """A camera's tracker began a second track on a shopper three frames before it let the first one go:
    two tracks of one camera seen at once, briefly and at one place, are one person seen twice."""
    tracks = {"cam0": tables(track(1, range(0, 33), walking(1.0, 2.0)), track(2, range(30, 60), walking(1.0, 2.0))),
              "cam1": track(7, range(0, 60), walking(1.02, 2.03))}
    shoppers = run(tracks, handover_s=2.0)
    assert shoppers.shopper("cam0", 1) == shoppers.shopper("cam0", 2) == shoppers.shopper("cam1", 7)
    never = run(tracks, handover_s=0.0)  # 0: one camera's two tracks at once are always two people
    assert never.shopper("cam0", 1) != never.shopper("cam0", 2)


def test_one_cameras_two_tracks_seen_together_for_long_or_apart_stay_two():
    """Seen together longer than handover_s, or further apart than handover_m, they are two people."""
    together_long = {"cam0": tables(track(1, range(0, 60), walking(1.0, 2.0)), track(2, range(30, 60), walking(1.3, 2.0)))}
    together_long["cam1"] = track(7, range(0, 60), walking(1.02, 2.03))
    shoppers = run(together_long, handover_s=2.0)
    assert shoppers.shopper("cam0", 1) != shoppers.shopper("cam0", 2)
    apart = {"cam0": tables(track(1, range(0, 33), walking(1.0, 2.0)), track(2, range(30, 60), walking(1.0, 3.0))),
             "cam1": track(7, range(0, 60), walking(1.02, 2.03))}
    shoppers = run(apart, handover_s=2.0)
    assert shoppers.shopper("cam0", 1) != shoppers.shopper("cam0", 2)


def test_a_shopper_out_of_every_view_for_a_few_seconds_keeps_their_id():
    before = track(1, range(0, 30), walking(1.0, 2.0))  # ends at x = 3.32 m, frame 29
    after = track(4, range(60, 90), walking(1.0, 2.0))  # back at x = 5.8 m after 3.1 s: 0.8 m/s
    shoppers = run({"cam0": before, "cam1": after})
    assert shoppers.shopper("cam0", 1) == shoppers.shopper("cam1", 4)


def test_two_shoppers_back_in_view_after_seconds_out_of_it_are_told_apart_by_their_colours():
    """Two shoppers walk out of every view side by side and come back 6 s later, each where either
    could have walked: where and when cannot say who is who; their looks (in memory) can."""
    red_before = track(1, range(0, 30), walking(1.0, 2.0))
    blue_before = track(2, range(0, 30), walking(1.0, 3.0))
    first_back = track(4, range(90, 120), walking(4.0, 3.0, 0.5))  # the red shopper, now on the blue one's side
    second_back = track(5, range(90, 120), walking(4.0, 2.0, 0.5))
    looks = {"cam0": {1: colours(3), 2: colours(40)}, "cam1": {4: colours(3), 5: colours(40)}}
    shoppers = run({"cam0": tables(red_before, blue_before), "cam1": tables(first_back, second_back)}, looks=looks)
    assert shoppers.shopper("cam0", 1) == shoppers.shopper("cam1", 4)
    assert shoppers.shopper("cam0", 2) == shoppers.shopper("cam1", 5)
    assert shoppers.shopper("cam0", 1) != shoppers.shopper("cam0", 2)
    swapped = {"cam0": looks["cam0"], "cam1": {4: colours(40), 5: colours(3)}}
    shoppers = run({"cam0": tables(red_before, blue_before), "cam1": tables(first_back, second_back)}, looks=swapped)
    assert shoppers.shopper("cam0", 1) == shoppers.shopper("cam1", 5)
    assert shoppers.shopper("cam0", 2) == shoppers.shopper("cam1", 4)


def test_someone_appearing_too_far_away_to_have_walked_there_is_someone_else():
    before = track(1, range(0, 30), walking(1.0, 2.0))
    elsewhere = track(4, range(40, 70), walking(9.0, 6.0))  # 8 m away 1 s later
    shoppers = run({"cam0": before, "cam1": elsewhere})
    assert shoppers.shopper("cam0", 1) != shoppers.shopper("cam1", 4)


def test_shoppers_in_the_same_place_at_different_times_long_apart_are_two_visits():
    shoppers = run({"cam0": track(1, range(0, 20), walking(1.0, 2.0)),
                    "cam1": track(2, range(200, 220), walking(1.0, 2.0))})
    assert shoppers.shopper("cam0", 1) != shoppers.shopper("cam1", 2)


def test_ids_are_numbered_in_order_of_first_sight():
    shoppers = run({"cam0": tables(track(9, range(30, 60), walking(1.0, 1.0)), track(3, range(0, 20), walking(6, 4)))})
    assert shoppers.identity == "camera"  # one camera: its track ids stay the shoppers
    assert shoppers.shopper("cam0", 9) == "9"
    two = run({"cam0": track(9, range(30, 60), walking(1.0, 1.0)), "cam1": track(3, range(0, 20), walking(6, 4))})
    assert (two.shopper("cam1", 3), two.shopper("cam0", 9)) == ("1", "2")


def test_cameras_that_are_not_placed_keep_per_camera_ids_and_say_so(caplog):
    shoppers = run({"cam0": track(1, range(10), walking(1, 1)), "cam1": track(1, range(10), walking(1, 1))},
                   placed=False)
    assert shoppers.identity == "per-camera"
    assert (shoppers.shopper("cam0", 1), shoppers.shopper("cam1", 1)) == ("cam0-1", "cam1-1")
    assert "identities cannot be shared across cameras" in caplog.text
    assert shoppers.to_dict()["identity"] == "per-camera"


def test_shoppers_table_gives_each_shopper_one_floor_point_per_step_with_the_cameras_that_saw_them():
    shoppers = run({"cam0": track(1, range(0, 10), lambda f: (2.0, 3.0)),
                    "cam1": track(2, range(5, 10), lambda f: (2.1, 3.0))})
    table = shoppers_table(shoppers, 1 / FPS)
    assert list(table.columns) == ["timestamp", "shopper", "x", "y", "cameras"]
    assert len(table) == 10 and set(table["shopper"]) == {"1"}
    assert table["timestamp"].iloc[0] == pytest.approx(T0)
    late = table.iloc[-1]
    assert late["cameras"] == "cam0;cam1" and late["x"] == pytest.approx(2.05)
    assert shoppers_table(run({"cam0": track(1, range(3), walking(1, 1))}, placed=False), 0.1).empty


def event(shopper: str, camera: str, sku: str = "0001", shelf: str = "A1", t: float = T0 + 2, confidence=0.9):
    return PickEvent(t, shopper, "pick", sku, 1, shelf, "1", camera, 20, confidence)


def test_one_pick_seen_by_two_cameras_is_one_event_for_one_shopper():
    merged = merge_camera_events([[event("1", "cam0")], [event("1", "cam1", confidence=0.7, t=T0 + 2.3)]], 1.0)
    assert [(e.shopper, e.camera) for e in merged] == [("1", "cam0")]


def test_two_shoppers_picking_one_product_at_once_are_two_events():
    merged = merge_camera_events([[event("1", "cam0")], [event("2", "cam1")]], 1.0)
    assert sorted(e.shopper for e in merged) == ["1", "2"]
    other_shelf = merge_camera_events([[event("1", "cam0")], [event("1", "cam1", shelf="B2")]], 1.0)
    assert len(other_shelf) == 2


def test_a_calibrated_camera_places_a_shopper_by_the_top_of_the_head_whatever_hides_the_feet():
    forward = np.array([0.0, 0.6, -0.8])
    right = np.array([1.0, 0.0, 0.0])
    R = np.stack([right, np.cross(forward, right), forward])
    eye = np.array([2.0, -1.0, 3.0])
    cal = Calibration((640, 360), ((400.0, 0, 320.0), (0, 400.0, 180.0), (0, 0, 1.0)), (0.0,) * 5,
                      tuple(map(tuple, R)), tuple(-R @ eye))
    cam = Camera("cam0", Path("videos/cam0.mp4"), T0, calibration=cal)
    head = cal.project(np.array([[2.5, 1.0, 1.7]]))[0][0]  # a shopper at (2.5, 1.0), head top at 1.7 m
    box = pd.DataFrame([(0, 1, head[0] - 20, head[1], head[0] + 20, head[1] + 60, 0.9)],  # feet hidden: short box
                       columns=["frame", "track_id", "x1", "y1", "x2", "y2", "confidence"])
    (tracklet,) = floor_tracklets(box, cam, FPS)
    np.testing.assert_allclose(tracklet.xy[0], [2.5, 1.0], atol=1e-6)


def test_a_run_of_several_uncalibrated_cameras_says_its_ids_are_per_camera(tmp_path, caplog):
    from tests.walkout.walkout_fakes import FakeModels, make_recording, write_video
    from walkout.config import load_config
    from walkout.pipeline import process_recording

    root = make_recording(tmp_path / "two cams")
    store = json.loads((root / "store.json").read_text())
    store["cameras"].append({**store["cameras"][0], "id": "cam1", "video": "videos/cam1.mp4"})
    (root / "store.json").write_text(json.dumps(store))
    write_video(root / "videos" / "cam1.mp4", 12)
    config = load_config()
    result = process_recording(root, tmp_path / "out", FakeModels(config), config)
    run = json.loads((result.out_dir / "run.json").read_text())
    assert run["shoppers"]["identity"] == "per-camera"
    assert "identities cannot be shared across cameras" in caplog.text
    assert list(pd.read_csv(result.out_dir / "shoppers.csv").columns) == ["timestamp", "shopper", "x", "y", "cameras"]
