"""Mock store layout: several aisles inside walls, corridors, doors, ceiling cameras handing shoppers on.

The one-aisle layout stays the special case (aisle 0 of a store is the one-aisle A/B aisle); store.json
version 2 carries the geometry the renderer knows (OpenCV calibration, shelf and plate boxes, floor).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mockstore.random_scenario import random_scenario
from mockstore.render import CameraRenderer, make_palette, occluder_depth, seen_share
from mockstore.scenario import ScenarioError, StoreSpec, parse_scenario, store_spec
from mockstore.scene import Layout, default_camera_specs, make_cameras
from mockstore.script import compile_scenario, seed_streams
from mockstore.weights import synthesize_weights
from mockstore.writer import calibration, shelf_geometry, write_recording

# A small store (two aisles of 2.4 m, four plates, narrow corridors, few plates stocked): quick renders.
SMALL_STORE = {"aisles": 2, "aisle_length_m": 2.4, "plates_per_shelf": 4, "corridor_m": 1.4}
PLANOGRAM = [{"shelf": "A2", "plate": 1, "sku": "012001"}, {"shelf": "B1", "plate": 4, "sku": "012008"},
             {"shelf": "C1", "plate": 1, "sku": "012004"}, {"shelf": "D2", "plate": 4, "sku": "012002"}]


def store_scenario(**overrides) -> dict:
    """Two shoppers: one shops in aisle 0 then aisle 1 and stays; one shops in aisle 0 and leaves
    through the exit (the corridor at the far end), wearing the first one's colours."""
    data = {
        "name": "store", "seed": 3, "duration_s": 14, "fps": 1, "width": 160, "height": 90, "cameras": 6,
        "store": SMALL_STORE, "planogram": PLANOGRAM,
        "shoppers": [
            {"id": 1, "script": [{"action": "enter", "at_s": 0.0},
                                 {"action": "pick", "shelf": "A2", "plate": 1, "sku": "012001"},
                                 {"action": "pick", "shelf": "C1", "plate": 1, "sku": "012004"}]},
            {"id": 2, "same_look_as": 1, "script": [{"action": "enter", "at_s": 0.5},
                                                    {"action": "pick", "shelf": "B1", "plate": 4, "sku": "012008"},
                                                    {"action": "leave"}]},
        ],
    }
    data.update(overrides)
    return data


def footprints(layout: Layout) -> list[tuple[float, float, float, float]]:
    return [layout.gondola_footprint_m(g) for g in layout.store.gondolas]


def inside_any(xy: np.ndarray, rects, margin_m: float = 0.0) -> np.ndarray:
    """(N,) whether each floor point lies within ``margin_m`` of one of the rectangles (x0, y0, x1, y1)."""
    hit = np.zeros(len(xy), bool)
    for x0, y0, x1, y1 in rects:
        hit |= ((xy[:, 0] > x0 - margin_m) & (xy[:, 0] < x1 + margin_m)
                & (xy[:, 1] > y0 - margin_m) & (xy[:, 1] < y1 + margin_m))
    return hit


def walked_points(sim, step_m: float = 0.02) -> np.ndarray:
    """Floor points every ``step_m`` along every walk of every shopper."""
    points = []
    for track in sim.shoppers:
        for seg in track.segments:
            a, b = np.array(seg.start_xy), np.array(seg.end_xy)
            n = max(int(np.linalg.norm(b - a) / step_m), 1) + 1
            points.append(a + np.linspace(0, 1, n)[:, None] * (b - a))
    return np.concatenate(points)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    scenario = parse_scenario(store_scenario(), source="store.yaml")
    return write_recording(scenario, tmp_path_factory.mktemp("store") / "rec").path


# ------------------------------------------------------------------ geometry


def test_a_store_has_aisles_between_pairs_of_gondolas_named_in_order():
    layout = Layout(store_spec(3))
    assert layout.store.aisles == 3 and layout.store.layout == "store"
    assert layout.store.gondolas == ("A", "B", "C", "D", "E", "F")
    assert layout.store.shelves()[:4] == ["A1", "A2", "A3", "B1"]
    for k in range(3):
        low, high = chr(ord("A") + 2 * k), chr(ord("A") + 2 * k + 1)
        assert layout.aisle_of(low) == layout.aisle_of(high) == k
        centre = layout.aisle_centre_y_m(k)
        assert layout.front_y_m(f"{low}1") == pytest.approx(centre - layout.half_aisle_m)
        assert layout.front_y_m(f"{high}1") == pytest.approx(centre + layout.half_aisle_m)
    # Neighbouring aisles' gondolas stand back to back: B's back faces C's back across a small gap.
    assert 0 < layout.back_y_m("C") - layout.back_y_m("B") < 0.1


def test_the_one_aisle_layout_is_aisle_zero_of_a_store():
    aisle, store = Layout(StoreSpec()), Layout(store_spec(2, aisle_length_m=2.4, plates_per_shelf=4))
    for shelf in ("A1", "A3", "B2"):
        assert aisle.front_y_m(shelf) == store.front_y_m(shelf) == aisle.gondola_sign(shelf) * 0.9
        for plate in (1, 4):
            assert np.array_equal(aisle.plate_box_m(shelf, plate), store.plate_box_m(shelf, plate))
    assert aisle.occluders() == []  # nothing hides the one aisle's shoppers
    assert aisle.route_m((-0.9, 0.1), (2.0, 0.5)) == [(2.0, 0.5)]  # walks straight, as before


@pytest.mark.parametrize("store", [StoreSpec(), store_spec(2), store_spec(3, plates_per_shelf=5)])
def test_plate_boxes_lie_inside_their_shelf_box_and_shelves_do_not_overlap(store):
    shelves = shelf_geometry(Layout(store))
    assert [s["shelf"] for s in shelves] == store.shelves()

    def bounds(box):
        c, s = np.array(box["center_m"]), np.array(box["size_m"])
        return c - s / 2, c + s / 2

    for shelf in shelves:
        lo, hi = bounds(shelf)
        assert shelf["yaw_deg"] == 0.0 and (hi > lo).all()
        assert [p["plate"] for p in shelf["plates"]] == list(range(1, store.plates_per_shelf + 1))
        for plate in shelf["plates"]:
            plo, phi = bounds(plate)
            assert (plo >= lo - 1e-6).all() and (phi <= hi + 1e-6).all()
    for i, a in enumerate(shelves):
        for b in shelves[i + 1:]:
            (alo, ahi), (blo, bhi) = bounds(a), bounds(b)
            overlap = np.minimum(ahi, bhi) - np.maximum(alo, blo)
            assert (overlap <= 1e-6).any(), (a["shelf"], b["shelf"])


def test_gondolas_stand_apart_inside_the_walls_with_corridors_at_both_ends():
    layout = Layout(store_spec(3))
    (x0, y0), (x1, y1) = layout.floor_m()
    rects = footprints(layout)
    for i, (a0, b0, a1, b1) in enumerate(rects):
        assert x0 < a0 and a1 < x1 and y0 <= b0 and b1 <= y1
        assert a0 - x0 >= layout.store.corridor_m - 0.05 and x1 - a1 >= layout.store.corridor_m - 0.05
        for _, d0, _, d1 in rects[i + 1:]:
            assert min(b1, d1) <= max(b0, d0)  # no two gondolas share floor
    entrance, exit_ = layout.entrance_xy(), layout.exit_xy()
    assert entrance[0] == x0 and exit_[0] == x1 and y0 < entrance[1] < y1 and y0 < exit_[1] < y1


def test_walks_go_around_gondolas_never_through_them():
    """Random store shoppers visit several aisles: every walked point keeps clear of every gondola
    (the body centre stays outside the footprint grown by a body's half width)."""
    for seed in range(4):
        sim = compile_scenario(random_scenario(seed, n_shoppers=6, duration_s=60.0, layout="store",
                                               aisles=2 + seed % 2))
        points = walked_points(sim)
        assert not inside_any(points, footprints(sim.layout), margin_m=0.2).any()
        (x0, y0), (x1, y1) = sim.layout.floor_m()
        indoors = (points[:, 0] >= x0) & (points[:, 0] <= x1)
        assert ((points[indoors, 1] > y0) & (points[indoors, 1] < y1)).all()
        # Outside the walls only in front of a door (coming in or going out).
        for x, y in points[~indoors]:
            door_y = (sim.layout.entrance_xy() if x < x0 else sim.layout.exit_xy())[1]
            assert abs(y - door_y) < sim.layout.config.door_width_m / 2


def test_random_store_shoppers_shop_in_several_aisles():
    """60 s, six shoppers: several picks or returns each on average, spread over the aisles; each
    shopper stands at shelves of at least two aisles, leaves through the exit when done; about one
    in three wears an earlier shopper's colours."""
    scenario = random_scenario(7, n_shoppers=6, duration_s=60.0, layout="store")
    assert scenario == random_scenario(7, n_shoppers=6, duration_s=60.0, layout="store")
    sim = compile_scenario(scenario)
    assert len(sim.events) >= 3 * len(sim.shoppers)
    assert {sim.layout.aisle_of(e.shelf) for e in sim.events} == {0, 1}
    for track in sim.shoppers:
        stands = {sim.layout.aisle_at(s.start_xy) for s in track.segments if s.kind == "reach"}
        assert len(stands - {None}) >= 2
    copiers = [s for s in scenario.shoppers if s.same_look_as is not None]
    assert len(copiers) == round((len(scenario.shoppers) - 1) / 3)
    looks = {t.id: t.look for t in sim.shoppers}
    for spec in copiers:
        mine, theirs = looks[spec.id], looks[spec.same_look_as]
        assert (mine.shirt_bgr, mine.pants_bgr) == (theirs.shirt_bgr, theirs.pants_bgr)


def test_store_scenarios_parse_and_report_store_mistakes():
    scenario = parse_scenario(store_scenario(), source="s.yaml")
    assert scenario.store.layout == "store" and scenario.store.gondolas == ("A", "B", "C", "D")
    assert scenario.n_cameras == 6 and scenario.shoppers[1].same_look_as == 1
    assert parse_scenario({"store": {"layout": "store"}}).store.aisles == 2
    for data, where, problem in [
        (store_scenario(cameras=9), "cameras", "must be <= 8"),
        (store_scenario(store={**SMALL_STORE, "gondolas": ["A"]}), "store.gondolas", "all gondolas"),
        (store_scenario(store={"aisles": 5}), "store.aisles", "must be <= 4"),
        (store_scenario(store={"corridor_m": 2.0}), "store.corridor_m", "store layout only"),
        (store_scenario(shoppers=[{"id": 1, "script": [{"action": "enter", "side": "left"}]}]),
         "shoppers[0].script[0]", "side applies to the aisle layout only"),
        (store_scenario(shoppers=[{"id": 1, "same_look_as": 1, "script": ["enter"]}]),
         "shoppers[0].same_look_as", "another shopper"),
    ]:
        with pytest.raises(ScenarioError) as info:
            parse_scenario(data, source="s.yaml")
        assert where in str(info.value) and problem in str(info.value)
    assert parse_scenario({"cameras": 4}).n_cameras == 4  # the one-aisle layout keeps its limit
    with pytest.raises(ScenarioError, match="must be <= 4"):
        parse_scenario({"cameras": 5})


# ------------------------------------------------------------------ cameras


def test_calibration_projects_plate_boxes_like_the_camera():
    """store.json's K, R, t (OpenCV: x_cam = R X + t, pixels = K x_cam / z) give the renderer's pixels."""
    for scenario in (random_scenario(4, n_cameras=8, layout="store"), random_scenario(4, n_cameras=2)):
        sim = compile_scenario(scenario)
        for cam in make_cameras(scenario, seed_streams(scenario.seed)[4]):
            cal = json.loads(json.dumps(calibration(cam)))
            K, R, t = np.array(cal["K"]), np.array(cal["R"]), np.array(cal["t"])
            assert cal["image_size_px"] == [cam.width_px, cam.height_px] and cal["dist"] == [0.0] * 5
            for shelf in scenario.store.shelves()[::3]:
                corners = sim.layout.plate_box_m(shelf, 1)
                x_cam = corners @ R.T + t
                pixels, depth = cam.project(corners)
                if (depth <= 0.1).any():
                    continue
                projected = (x_cam @ K.T)[:, :2] / x_cam[:, 2:]
                assert np.abs(projected - pixels).max() < 0.01


def test_aisle_layout_cameras_are_unchanged():
    """One-aisle cameras: over one side of the aisle, looking across at the other gondola (cam0 at B)."""
    specs = default_camera_specs(StoreSpec(), 4)
    assert [np.round(s.position_m, 6).tolist() for s in specs[:2]] == [[1.2, -0.6, 3.1], [1.2, 0.6, 3.1]]
    assert [np.round(s.look_at_m, 6).tolist() for s in specs[:2]] == [[1.2, 1.0, 0.55], [1.2, -1.0, 0.55]]


def test_aisle_walkways_are_seen_by_two_cameras_and_some_floor_by_none():
    """Six cameras over two aisles (or three): the middle half of every aisle's walkway is in view of
    two cameras past the gondola frames; stretches of the corridors and under the cameras are not
    seen at all; views overlap only in part."""
    for aisles in (2, 3):
        scenario = random_scenario(7, n_shoppers=0, duration_s=2.0, n_cameras=6, width_px=160, height_px=90,
                                   layout="store", aisles=aisles)
        layout = Layout(scenario.store)
        cams = make_cameras(scenario, seed_streams(7)[4])
        depths = [occluder_depth(cam, layout.occluders()) for cam in cams]

        def cameras_seeing(points, cams=cams, depths=depths):
            return sum(np.array([seen_share(cam, d, p[None], 0.05) > 0 for p in points]).astype(int)
                       for cam, d in zip(cams, depths, strict=True))

        L = scenario.store.aisle_length_m
        walkway = np.array([[x, layout.aisle_centre_y_m(k) + dy, 1.2] for k in range(aisles)
                            for x in np.linspace(0.25 * L, 0.75 * L, 7) for dy in (-0.3, 0.0, 0.3)])
        assert cameras_seeing(walkway).min() >= 2
        (x0, y0), (x1, y1) = layout.floor_m()
        grid = np.array([[x, y, 1.2] for x in np.arange(x0 + 0.1, x1, 0.3) for y in np.arange(y0 + 0.1, y1, 0.3)])
        grid = grid[~inside_any(grid[:, :2], footprints(layout))]
        count = cameras_seeing(grid)
        assert (count == 0).mean() > 0.05 and (count >= 2).mean() > 0.1 and (count == 1).mean() > 0.05


# ------------------------------------------------------------------ a rendered store recording


def test_store_json_has_the_geometry_in_version_2(recording):
    store = json.loads((recording / "store.json").read_text())
    assert store["version"] == 2 and store["mockstore"]["layout"] == "store"
    assert [s["shelf"] for s in store["shelves"]] == [f"{g}{lv}" for g in "ABCD" for lv in (1, 2, 3)]
    assert store["floor"] == {"min_m": [-1.4, -1.41], "max_m": [3.8, 4.25]}
    for cam in store["cameras"]:
        cal = cam["calibration"]
        assert set(cal) == {"image_size_px", "K", "dist", "R", "t", "source"} and cal["source"] == "mockstore"
        assert cal["K"][0][2] == 80.0 and cal["K"][1][2] == 45.0
        assert np.allclose(np.array(cal["R"]) @ np.array(cal["R"]).T, np.eye(3), atol=1e-5)
        for zone in cam["zones"]:
            assert zone["shelf"] in {p["shelf"] for p in PLANOGRAM}
    # An aisle camera has zones on the gondola it looks at, none on the one it hangs above (out of view).
    for cam, watched, below in zip(store["cameras"], "BADC", "ABCD", strict=False):
        gondolas = {zone["shelf"][0] for zone in cam["zones"]}
        assert watched in gondolas and below not in gondolas


def test_shopper_positions_are_truth_on_the_floor(recording):
    """truth/shoppers.csv: one row per frame per shopper in the store (3-decimal Unix seconds, metres),
    on the floor rectangle, never on a gondola."""
    text = (recording / "truth" / "shoppers.csv").read_text().splitlines()
    assert text[0] == "timestamp,shopper,x,y"
    assert all(re.fullmatch(r"\d+\.\d{3},\d+,-?\d+\.\d{3},-?\d+\.\d{3}", line) for line in text[1:])
    rows = pd.read_csv(recording / "truth" / "shoppers.csv")
    store = json.loads((recording / "store.json").read_text())
    (x0, y0), (x1, y1) = store["floor"]["min_m"], store["floor"]["max_m"]
    assert rows["x"].between(x0, x1).all() and rows["y"].between(y0, y1).all()
    layout = Layout(parse_scenario(store_scenario()).store)
    assert not inside_any(rows[["x", "y"]].to_numpy(), footprints(layout)).any()
    frames = (rows["timestamp"] - 1_700_000_000.0) * 1.0
    assert np.allclose(frames, np.round(frames), atol=1e-6) and set(rows["shopper"]) == {1, 2}
    assert not rows.duplicated(["timestamp", "shopper"]).any()
    # Shopper 1 stays to the end; shopper 2 walks out through the exit before it.
    last = rows.groupby("shopper")["timestamp"].max()
    assert last[1] == 1_700_000_013.0 and last[2] < last[1]


def test_every_shopper_is_tracked_by_at_least_two_cameras(recording):
    seen: dict[int, set[str]] = {}
    for path in sorted((recording / "truth" / "tracks").glob("*.txt")):
        tracks = pd.read_csv(path, header=None)
        for shopper in set(tracks[1]):
            seen.setdefault(int(shopper), set()).add(path.stem)
    assert set(seen) == {1, 2}
    assert all(len(cams) >= 2 for cams in seen.values()), seen


def test_weights_cover_every_plate_of_every_shelf():
    scenario = random_scenario(2, duration_s=2.0, layout="store", aisles=3)
    sim = compile_scenario(scenario)
    weights = synthesize_weights(sim, np.random.default_rng(0))
    plates = set(zip(weights["shelf"], weights["plate"], strict=True))
    assert plates == {(s, p) for s in scenario.store.shelves() for p in range(1, scenario.store.plates_per_shelf + 1)}


def test_a_hand_in_a_shelf_is_seen_by_some_camera():
    """At each pick, the picking hand is in view (at least half unhidden) of a camera."""
    scenario = parse_scenario(store_scenario(width=320, height=180), source="s.yaml")
    sim = compile_scenario(scenario)
    streams = seed_streams(scenario.seed)
    renderers = [CameraRenderer(sim, cam, make_palette(sim, streams[5]), picture=False)
                 for cam in make_cameras(scenario, streams[4])]
    assert len(sim.events) == 3
    for event in sim.events:
        best = max((b.visible for r in renderers for b in r.render(event.t_s)[1]
                    if b.object == "hand" and b.track_id == event.shopper), default=0.0)
        assert best >= 0.5, event


def test_seed_7_store_shoppers_are_each_in_view_of_two_cameras():
    """`walkout simulate --layout store --cameras 6 --shoppers 5 --duration 60 --seed 7`: every
    shopper's head and chest are both in view of (inside the image, not behind a gondola frame or
    wall) at least two cameras at some time of the recording (checked every 0.5 s)."""
    from mockstore.figures import shopper_pose
    from mockstore.scenario import Knobs

    scenario = random_scenario(7, n_shoppers=5, duration_s=60.0, n_cameras=6, width_px=160, height_px=90,
                               knobs=Knobs(scene_variation=1.0), layout="store")
    sim = compile_scenario(scenario)
    cams = make_cameras(scenario, seed_streams(7)[4])
    depths = [occluder_depth(cam, sim.layout.occluders()) for cam in cams]
    for track in sim.shoppers:
        points = []
        for t in np.arange(0.0, 60.0, 0.5):
            pose = shopper_pose(track, sim, t)
            if pose is not None:
                h = track.look.height_m
                points += [[pose.xy[0], pose.xy[1], 0.92 * h], [pose.xy[0], pose.xy[1], 0.74 * h]]
        points = np.array(points)
        cameras = sum(1 for cam, d in zip(cams, depths, strict=True)
                      if any(seen_share(cam, d, points[i:i + 2], 0.05) == 1.0 for i in range(0, len(points), 2)))
        assert cameras >= 2, track.id


def test_cameras_redraw_the_store_only_when_an_item_they_show_changes(monkeypatch):
    """A pick on A2 redraws the static picture of cam1 (looking at A), not of cam2 (in aisle 1,
    looking at D, with gondolas between it and A); the truth boxes of shelf items follow the pick."""
    import mockstore.render as render

    draws: list[str] = []
    real = render.draw_store
    monkeypatch.setattr(render, "draw_store", lambda sim, cam, *a: draws.append(cam.id) or real(sim, cam, *a))
    scenario = parse_scenario(store_scenario(), source="s.yaml")
    sim = compile_scenario(scenario)
    streams = seed_streams(scenario.seed)
    palette = make_palette(sim, streams[5])
    pick = next(e for e in sim.events if e.shelf == "A2")
    cams = {cam.id: cam for cam in make_cameras(scenario, streams[4])}
    for cid, redrawn in (("cam1", True), ("cam2", False)):
        renderer = CameraRenderer(sim, cams[cid], palette)
        draws.clear()
        before = renderer.render(pick.t_s - 0.1, effects=False)[1]
        after = renderer.render(pick.t_s + 0.1, effects=False)[1]
        assert draws == ([cid, cid] if redrawn else [cid])
        on_shelf = [sum(b.object == "product_on_shelf" and b.sku == pick.sku for b in boxes)
                    for boxes in (before, after)]
        assert on_shelf[0] - on_shelf[1] == (pick.quantity if redrawn else 0)


def test_the_aisle_layout_writes_its_geometry_too(tmp_path):
    scenario = random_scenario(5, n_shoppers=1, duration_s=1.0, n_cameras=2, width_px=160, height_px=90)
    rec = write_recording(replace(scenario, name="aisle"), tmp_path / "aisle").path
    store = json.loads((rec / "store.json").read_text())
    assert store["version"] == 2 and store["mockstore"]["layout"] == "aisle"
    assert [s["shelf"] for s in store["shelves"]] == StoreSpec().shelves()
    assert store["floor"] == {"min_m": [-1.6, -1.4], "max_m": [4.0, 1.4]}
    assert len(store["cameras"]) == 2 and all("calibration" in c for c in store["cameras"])
    assert (rec / "truth" / "shoppers.csv").read_text().startswith("timestamp,shopper,x,y\n")


def test_cli_builds_store_scenarios_and_keeps_the_aisle_camera_limit(tmp_path, capsys, monkeypatch):
    import mockstore.writer
    from mockstore.writer import RecordingSummary
    from walkout.cli import main

    rendered = []

    def fake_write(scenario, out_dir, **_):
        rendered.append(scenario)
        return RecordingSummary(Path(out_dir), scenario.n_cameras, 10, 0, len(scenario.shoppers), 1.0)

    monkeypatch.setattr(mockstore.writer, "write_recording", fake_write)
    code = main(["simulate", str(tmp_path / "st"), "--layout", "store", "--aisles", "3", "--cameras", "8",
                 "--shoppers", "5", "--duration", "30", "--seed", "4"])
    assert code in (0, None)
    (scenario,) = rendered
    assert scenario == replace(random_scenario(4, n_shoppers=5, duration_s=30.0, n_cameras=8, layout="store",
                                               aisles=3, knobs=scenario.knobs, name="st"), name="st")
    assert scenario.store.gondolas == tuple("ABCDEF") and len(make_cameras(scenario, seed_streams(4)[4])) == 8
    capsys.readouterr()
    assert main(["simulate", str(tmp_path / "aisle"), "--cameras", "5"]) == 2
    assert "at most 4 cameras" in capsys.readouterr().err and len(rendered) == 1
