"""Mock store: scenario parsing and errors, determinism, weight-log consistency, format, YOLO export."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from formats.errors import FormatError
from formats.tables import read_catalog, read_events, read_planogram, read_truth_boxes
from mockstore.catalog import default_catalog, detector_class_names
from mockstore.random_scenario import random_scenario
from mockstore.render import BOX_COLUMNS
from mockstore.scenario import ScenarioError, load_scenario, parse_scenario
from mockstore.script import compile_scenario
from mockstore.writer import write_recording
from mockstore.yolo import export_yolo_dataset

REPO = Path(__file__).resolve().parents[2]
PLANOGRAM = [{"shelf": f"B{lvl}", "plate": p, "sku": sku}
             for lvl, skus in ((1, ["012008", "012008", "012003", "012007"]),
                               (2, ["012001", "012002", "012009", "012006"]),
                               (3, ["012004", "012005", "012010", "012010"]))
             for p, sku in enumerate(skus, start=1)]


def scenario_dict(**overrides) -> dict:
    data = {
        "name": "t", "seed": 5, "duration_s": 14, "fps": 10, "width": 192, "height": 108,
        "store": {"gondolas": ["B"]}, "planogram": PLANOGRAM,
        "shoppers": [
            {"id": 1, "script": [
                {"action": "enter", "at_s": 0.0, "side": "left"},
                {"action": "pick", "shelf": "B2", "plate": 1, "sku": "012001", "quantity": 2},
                {"action": "pick", "shelf": "B1", "plate": 2, "sku": "012008"},
                {"action": "return", "shelf": "B2", "plate": 3, "sku": "012001"},
                {"action": "leave"}]},
            {"id": 2, "script": [
                {"action": "enter", "at_s": 1.0, "side": "right"},
                {"action": "pick", "shelf": "B3", "plate": 4, "sku": "012010"},
                {"action": "hold", "duration_s": 1.0},
                {"action": "return", "shelf": "B3", "plate": 4, "sku": "012010"}]},
        ],
    }
    data.update(overrides)
    return data


def test_parse_valid_scenario():
    scenario = parse_scenario(scenario_dict(), source="s.yaml")
    assert [s.id for s in scenario.shoppers] == [1, 2]
    assert scenario.shoppers[0].script[1].quantity == 2
    assert scenario.planogram[0] == ("B1", 1, "012008")


def _with_step(step: dict, index: int = 1) -> dict:
    data = scenario_dict()
    data["shoppers"][1]["script"][index] = step
    return data


@pytest.mark.parametrize(("data", "where", "problem"), [
    (_with_step({"action": "pick", "shelf": "B3", "plate": 4, "sku": "123"}), "shoppers[1].script[1]", "unknown sku '123'"),
    (_with_step({"action": "pick", "shelf": "Z9", "plate": 4, "sku": "012010"}), "shoppers[1].script[1]", "unknown shelf"),
    (_with_step({"action": "pick", "shelf": "B3", "plate": 9, "sku": "012010"}), "shoppers[1].script[1]", "out of range"),
    (_with_step({"action": "pick", "shelf": "B3", "plate": 4, "sku": "012010", "quantity": 3}),
     "shoppers[1].script[1]", "quantity must be 1 or 2"),
    (_with_step({"action": "fly"}), "shoppers[1].script[1].action", "unknown action"),
    (_with_step({"action": "hold"}), "shoppers[1].script[1]", "missing field 'duration_s'"),
    (_with_step({"action": "walk", "shelf": "B3", "plate": 1, "sku": "012010"}), "shoppers[1].script[1]",
     "do not apply"),
    (_with_step({"action": "hold", "duration_s": 1}, 0), "shoppers[1].script[0]", "first step must be 'enter'"),
    (_with_step({"action": "hold", "duration_s": 1}, 1), "shoppers[1].script[3]", "returns sku '012010'"),
    (scenario_dict(fps="fast"), "fps", "expected a number"),
    (scenario_dict(colour="red"), "", "unknown field(s) colour"),
    (scenario_dict(knobs={"jpeg_quality": 0}), "knobs.jpeg_quality", "1..100"),
])
def test_scenario_errors_name_file_and_step(data, where, problem):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="scenarios/x.yaml")
    message = str(info.value)
    assert message.startswith("scenarios/x.yaml: ")
    assert where in message and problem in message


@pytest.mark.parametrize(("steps", "problem"), [
    ([{"action": "pick", "shelf": "B3", "plate": 4, "sku": "012001"}], "0 item(s) of sku '012001' on B3/4"),
    ([{"action": "hold", "duration_s": 40}, {"action": "pick", "shelf": "B3", "plate": 4, "sku": "012010"}],
     "after the end of the clip"),
])
def test_compile_errors_name_the_step(steps, problem):
    data = scenario_dict()
    data["shoppers"][1]["script"] = [{"action": "enter", "at_s": 1.0}, *steps]
    with pytest.raises(ScenarioError) as info:
        compile_scenario(parse_scenario(data, source="x.yaml"))
    assert "x.yaml: shoppers[1].script[" in str(info.value) and problem in str(info.value)


def test_load_scenario_file_errors(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("shoppers: [\n")
    with pytest.raises(ScenarioError, match="bad.yaml: not valid YAML"):
        load_scenario(bad)


def test_cli_reports_scenario_error_in_one_line(tmp_path, capsys):
    from walkout.cli import main

    bad = tmp_path / "x.yaml"
    bad.write_text(yaml.safe_dump(_with_step({"action": "pick", "shelf": "B3", "plate": 4, "sku": "123"})))
    code = main(["simulate", str(tmp_path / "out"), "--scenario", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert err == [f"error: {bad}: shoppers[1].script[1]: unknown sku '123'"]


def test_committed_scenarios_parse_and_compile():
    for name in ("one_shopper", "two_shoppers_return", "crowded"):
        sim = compile_scenario(load_scenario(REPO / "scenarios" / f"{name}.yaml"))
        assert sim.events


def _standing(sim, shopper_id: int) -> list:
    """(t0, t1, x, y) of a shopper's stand and reach segments."""
    track = next(t for t in sim.shoppers if t.id == shopper_id)
    return [(s.t0_s, s.t1_s, *s.start_xy) for s in track.segments if s.kind in ("stand", "reach")]


def test_shoppers_at_one_plate_stand_side_by_side():
    """Two shoppers taking from one plate at once do not stand in one place: the later one in the
    script stands one body's width along the shelf and still takes from that plate."""
    data = scenario_dict()
    data["shoppers"] = [
        {"id": 1, "script": [{"action": "enter", "at_s": 0.0, "side": "left"},
                             {"action": "pick", "shelf": "B2", "plate": 2, "sku": "012002"},
                             {"action": "hold", "duration_s": 2.0}]},
        {"id": 2, "script": [{"action": "enter", "at_s": 0.0, "side": "right"},
                             {"action": "pick", "shelf": "B2", "plate": 2, "sku": "012002"}]},
    ]
    sim = compile_scenario(parse_scenario(data, source="x.yaml"))
    first, second = _standing(sim, 1), _standing(sim, 2)
    overlapping = [(a, b) for a in first for b in second if a[0] < b[1] and b[0] < a[1]]
    assert overlapping
    gap = min(abs(a[2] - b[2]) for a, b in overlapping)
    assert gap == pytest.approx(0.55)
    assert second[0][2] > first[0][2]  # shopper 2 comes from the right and stops on that side
    assert [(e.shopper, e.shelf, e.plates) for e in sim.events] == [(1, "B2", (2,)), (2, "B2", (2,))]

    alone = compile_scenario(parse_scenario({**data, "shoppers": data["shoppers"][1:]}, source="x.yaml"))
    assert _standing(alone, 2)[0][2] == pytest.approx(first[0][2])  # the plate's own spot when free


def test_a_third_shopper_at_a_full_plate_stands_behind():
    """Plate 1 is at the aisle's end: one spot beside it. With that and the plate's own spot taken,
    the third shopper stands a step further from the shelf (no arm reaches two places along)."""
    data = scenario_dict()
    data["shoppers"] = [
        {"id": k, "script": [{"action": "enter", "at_s": 0.0, "side": "left"},
                             {"action": "pick", "shelf": "B2", "plate": 1, "sku": "012001"},
                             {"action": "hold", "duration_s": 3.0}]}
        for k in (1, 2, 3)
    ]
    sim = compile_scenario(parse_scenario(data, source="x.yaml"))
    (x1, y1), (x2, y2), (x3, y3) = (_standing(sim, k)[0][2:] for k in (1, 2, 3))
    assert x2 - x1 == pytest.approx(0.55) and y2 == y1
    assert x3 == pytest.approx(x1) and y1 - y3 == pytest.approx(0.3)
    assert [e.plates for e in sim.events] == [(1,), (1,), (1,)]


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    scenario = parse_scenario(scenario_dict(knobs={"pixel_noise": 2.0, "jpeg_quality": 80}), source="t.yaml")
    return write_recording(scenario, tmp_path_factory.mktemp("rec") / "rec").path


def test_recording_is_readable(recording):
    catalog = read_catalog(recording / "catalog.csv")
    planogram = read_planogram(recording / "planogram.csv", catalog)
    events = read_events(recording / "truth" / "events.csv")
    assert list(catalog["sku"]) == [p.sku for p in default_catalog()]
    assert set(events["action"]) == {"pick", "return"}
    assert set(events["shopper"]) == {"1", "2"}
    store = json.loads((recording / "store.json").read_text())
    assert store["version"] == 2
    plates = set(zip(planogram["shelf"], planogram["plate"], strict=True))
    for cam in store["cameras"]:
        assert cam["zones"]
        for zone in cam["zones"]:
            assert len(zone["polygon"]) >= 3
            assert all((zone["shelf"], p) in plates for p in zone["plates"])
        cap = cv2.VideoCapture(str(recording / cam["video"]))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 14 * 10
        cap.release()
        tracks = pd.read_csv(recording / "truth" / "tracks" / f"{cam['id']}.txt", header=None)
        assert set(tracks[1]) <= {1, 2} and tracks[0].min() >= 1
        boxes = read_truth_boxes(recording / "truth" / "boxes" / f"{cam['id']}.csv")  # the format's one reader
        assert tuple(boxes.columns) == BOX_COLUMNS  # what the renderer writes is what formats reads
        assert set(boxes["object"]) == {"shopper", "hand", "product_in_hand", "product_on_shelf"}
        assert boxes["sku"].str.startswith("0").any()  # SKUs keep their leading zeros
        assert (boxes["x1"] >= 0).all() and (boxes["x2"] <= 192).all() and (boxes["y2"] <= 108).all()
        assert boxes["visible"].between(0, 1).all()


def test_a_truth_boxes_file_with_a_bad_number_is_refused_naming_the_file_line_and_column(recording, tmp_path):
    text = (recording / "truth" / "boxes" / "cam0.csv").read_text().splitlines()
    fields = text[2].split(",")
    fields[8] = "most"  # visible
    path = tmp_path / "cam0.csv"
    path.write_text("\n".join([*text[:2], ",".join(fields), *text[3:]]) + "\n")
    with pytest.raises(FormatError, match="cam0.csv") as caught:
        read_truth_boxes(path)
    assert (caught.value.line, caught.value.field) == (3, "visible")


def test_weight_steps_match_events(recording):
    weights = pd.read_csv(recording / "weights.csv.gz")
    truth = pd.read_csv(recording / "truth" / "weights_truth.csv", dtype={"sku": str, "shelf": str})
    events = read_events(recording / "truth" / "events.csv")
    catalog = read_catalog(recording / "catalog.csv").set_index("sku")
    assert len(truth.groupby(["timestamp", "shopper"])) == len(events)
    for _, event in events.iterrows():
        t = event["timestamp"]
        rows = truth[(truth["timestamp"] - t).abs() < 1e-3]
        total_step = 0.0
        for plate in (int(p) for p in event["plates"].split(";")):
            log = weights[(weights["shelf"] == event["shelf"]) & (weights["plate"] == plate)]
            before = log[(log["timestamp"] > t - 1.5) & (log["timestamp"] < t - 0.6)]["grams"].median()
            after = log[(log["timestamp"] > t + 0.6) & (log["timestamp"] < t + 1.5)]["grams"].median()
            total_step += after - before
        true_grams = rows["grams"].sum()
        sign = -1 if event["action"] == "pick" else 1
        assert np.sign(true_grams) == sign
        assert total_step == pytest.approx(true_grams, abs=3.0)
        nominal = catalog.loc[event["sku"], "weight_g"] * event["quantity"]
        assert abs(true_grams) == pytest.approx(nominal, rel=0.05)


def _frames(path: Path, n: int) -> list[bytes]:
    cap = cv2.VideoCapture(str(path))
    out = [cap.read()[1].tobytes() for _ in range(n)]
    cap.release()
    return out


def test_same_seed_same_recording(tmp_path):
    scenario = random_scenario(3, n_shoppers=2, duration_s=4.0, width_px=160, height_px=90)
    scenario = replace(scenario, knobs=replace(scenario.knobs, pixel_noise=3.0))
    a = write_recording(scenario, tmp_path / "a").path
    b = write_recording(scenario, tmp_path / "b").path
    for rel in ("truth/events.csv", "truth/boxes/cam0.csv", "truth/tracks/cam0.txt", "planogram.csv",
                "truth/weights_truth.csv"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert pd.read_csv(a / "weights.csv.gz").equals(pd.read_csv(b / "weights.csv.gz"))
    assert _frames(a / "videos/cam0.mp4", 5) == _frames(b / "videos/cam0.mp4", 5)


def test_random_scenarios_compile():
    for seed in range(6):
        scenario = random_scenario(seed, n_shoppers=3, duration_s=20.0, n_cameras=2)
        assert compile_scenario(scenario).shoppers


def test_yolo_export(tmp_path):
    data_yaml = export_yolo_dataset(tmp_path / "ds", n_train=6, n_val=2, seed=1, width=320, height=180)
    data = yaml.safe_load(data_yaml.read_text())
    names = detector_class_names()
    assert data["names"] == names and Path(data["path"]).is_absolute()
    assert names[:2] == ["shopper", "hand"] and names[2] == f"sku_{default_catalog()[0].sku}"
    images = sorted((tmp_path / "ds" / "images" / "train").glob("*.jpg"))
    labels = sorted((tmp_path / "ds" / "labels" / "train").glob("*.txt"))
    assert len(images) == 6 and len(labels) == 6
    assert len(list((tmp_path / "ds" / "images" / "val").glob("*.jpg"))) == 2
    rows = [line.split() for f in labels for line in f.read_text().splitlines()]
    assert rows
    for row in rows:
        assert 0 <= int(row[0]) < len(names)
        assert all(0.0 <= float(v) <= 1.0 for v in row[1:])
    sidecars = sorted((tmp_path / "ds" / "boxes" / "train").glob("*.csv"))
    assert [f.stem for f in sidecars] == [f.stem for f in images]
    boxes = pd.concat([pd.read_csv(f) for f in sidecars])
    assert boxes["reach"].between(0.0, 1.0).all()
    assert (boxes.loc[boxes["object"] != "shopper", "reach"] == 0.0).all()


def test_yolo_export_into_a_finished_export_rewrites_the_same_files(tmp_path):
    """Rendering again into the same folder (an interrupted or miscounted export) replaces the frames;
    it does not add a second copy of each under another name."""
    export_yolo_dataset(tmp_path / "ds", n_train=4, n_val=1, seed=2, width=160, height=90)
    first = sorted(p.name for p in (tmp_path / "ds").rglob("*.*"))
    export_yolo_dataset(tmp_path / "ds", n_train=4, n_val=1, seed=2, width=160, height=90)
    assert sorted(p.name for p in (tmp_path / "ds").rglob("*.*")) == first


def test_pose_labels_put_the_arm_joints_on_the_arms():
    """Pose export: one line per shopper, box + shoulder, elbow, wrist of each arm. A reaching wrist is
    at the plate it reaches into; hidden joints are still labelled (v = 1), joints off the image are not."""
    from mockstore.figures import ARM_KEYPOINTS
    from mockstore.render import CameraRenderer, make_palette
    from mockstore.scene import make_cameras
    from mockstore.script import seed_streams
    from mockstore.yolo import POSE_FLIP, YoloConfig, pose_lines

    scenario = parse_scenario(scenario_dict(width=640, height=360), source="t.yaml")
    sim = compile_scenario(scenario)
    streams = seed_streams(scenario.seed)
    cam = make_cameras(scenario, streams[4])[0]
    renderer = CameraRenderer(sim, cam, make_palette(sim, streams[5]))
    event = sim.events[0]  # shopper 1 takes two cans from B2 plate 1
    t = event.t_s
    _, boxes = renderer.render(t, effects=False)
    joints = renderer.keypoints(t)
    lines = pose_lines(boxes, joints, 640, 360, YoloConfig())
    shoppers = [b for b in boxes if b.object == "shopper" and b.visible >= 0.2]
    assert len(lines) == len(shoppers) >= 1
    values = [float(v) for v in lines[0].split()]
    assert len(values) == 5 + 3 * len(ARM_KEYPOINTS)
    box = shoppers[0]
    kpts = np.array(values[5:]).reshape(-1, 3) * [640, 360, 1]
    labelled = kpts[kpts[:, 2] > 0]
    assert len(labelled) and set(kpts[:, 2].tolist()) <= {0.0, 1.0, 2.0}
    inside = ((labelled[:, 0] >= box.x1 - 1) & (labelled[:, 0] <= box.x2 + 1)
              & (labelled[:, 1] >= box.y1 - 1) & (labelled[:, 1] <= box.y2 + 1))
    assert inside.all()  # the shopper box is the union of body and arms
    reaching = 0 if event.arm == "left" else 1
    wrist_px, _ = cam.project(np.array([event.target_m]))
    assert np.linalg.norm(joints[1][3 * reaching + 2, :2] - wrist_px[0]) < 1.0  # at full reach, on the plate
    assert [ARM_KEYPOINTS[i] for i in POSE_FLIP] == [*ARM_KEYPOINTS[3:], *ARM_KEYPOINTS[:3]]
    off = {1: joints[1] + [0, 10_000, 0]}
    far = [float(v) for v in pose_lines(boxes, off, 640, 360, YoloConfig())[0].split()]
    assert far[5 + 2::3] == [0.0] * len(ARM_KEYPOINTS)
    # The reach extent of the render: full at the pick, none before the shopper starts reaching.
    assert renderer.reaches(t)[1] == 1.0
    assert renderer.reaches(t - 2.0)[1] == 0.0


def test_yolo_export_writes_every_frame_when_two_share_a_timestamp(tmp_path, monkeypatch):
    """Two frames of one scene drawn at the same instant (one event picked twice) are two files."""
    import mockstore.yolo as yolo

    real = np.random.default_rng

    class SameInstant:
        def __init__(self, *args, **kwargs):
            self._rng = real(*args, **kwargs)

        def uniform(self, low=0.0, high=1.0, size=None):
            if (low, high) == (-0.8, 2.0):  # the offset from the event: always the same
                return 0.5
            return self._rng.uniform(low, high, size)

        def __getattr__(self, name):
            return getattr(self._rng, name)

    monkeypatch.setattr(yolo.np.random, "default_rng", SameInstant)
    export_yolo_dataset(tmp_path / "ds", n_train=8, n_val=0, seed=3, width=160, height=90,
                        config=replace(yolo.YoloConfig(), near_event_share=1.0))
    assert len(list((tmp_path / "ds" / "images" / "train").glob("*.jpg"))) == 8
    assert len(list((tmp_path / "ds" / "labels" / "train").glob("*.txt"))) == 8



def test_yolo_export_can_draw_scenes_from_the_walled_store():
    """``store_share``: that share of training scenes is the multi-aisle store (4-6 cameras), the rest the
    one-aisle layout; with 0 no random draw is spent on the choice, so aisle-only exports (the shipped
    models' recipes) render the scenes they always did."""
    import numpy as np

    from mockstore.random_scenario import Behaviour, random_scenario
    from mockstore.scenario import StoreSpec
    from mockstore.yolo import YoloConfig, _random_scene, _scene_knobs

    def layouts(share: float) -> list[str]:
        return [_random_scene(seed, np.random.default_rng([seed, 99]), 320, 180,
                              YoloConfig(store_share=share)).store.layout for seed in range(12)]

    assert set(layouts(1.0)) == {"store"} and set(layouts(0.0)) == {"aisle"}
    assert set(layouts(0.5)) == {"store", "aisle"}
    for seed in (5, 6):  # the aisle recipe, draw for draw, as it was before stores were added
        rng = np.random.default_rng([seed, 99])
        store = StoreSpec(aisle_length_m=float(rng.uniform(1.8, 3.2)), aisle_width_m=float(rng.uniform(1.6, 2.2)),
                          levels=int(rng.integers(2, 5)), plates_per_shelf=int(rng.integers(3, 6)))
        before = random_scenario(seed, n_shoppers=int(rng.integers(0, 5)), duration_s=16.0, n_cameras=2,
                                 width_px=320, height_px=180, knobs=_scene_knobs(rng, YoloConfig()),
                                 behaviour=Behaviour(max_actions=4, same_shelf=0.5, returns=0.2, double_pick=0.35,
                                                     hold=0.2), store=store)
        assert _random_scene(seed, np.random.default_rng([seed, 99]), 320, 180, YoloConfig()) == before


def test_a_store_frame_is_taken_from_a_camera_that_sees_a_shopper():
    """In a store most cameras show empty aisles at any moment: a training frame's camera is, with
    ``store_seen_share`` chance, one in whose image some shopper's chest falls, else any camera."""
    import numpy as np

    from mockstore.render import CameraRenderer, make_palette
    from mockstore.scene import make_cameras
    from mockstore.script import compile_scenario, seed_streams
    from mockstore.yolo import YoloConfig, _camera_seeing_someone, _random_scene

    scenario = _random_scene(11, np.random.default_rng([11, 99]), 320, 180, YoloConfig(store_share=1.0))
    sim = compile_scenario(scenario)
    streams = seed_streams(scenario.seed)
    palette = make_palette(sim, streams[5])
    renderers = [CameraRenderer(sim, cam, palette) for cam in make_cameras(scenario, streams[4])]
    rng = np.random.default_rng(0)
    at = scenario.duration_s / 2

    def shoppers_in_view(renderer) -> int:
        return sum(b.object == "shopper" for b in renderer.render(at, np.random.default_rng(1))[1])

    assert len(renderers) >= 4 and min(map(shoppers_in_view, renderers)) == 0  # some cameras see nobody
    chosen = [_camera_seeing_someone(sim, renderers, at, rng, YoloConfig(store_seen_share=1.0)) for _ in range(10)]
    assert all(shoppers_in_view(r) > 0 for r in chosen)
    anyone = {id(_camera_seeing_someone(sim, renderers, at, rng, YoloConfig(store_seen_share=0.0)))
              for _ in range(60)}
    assert anyone == {id(r) for r in renderers}


def test_truth_tracks_are_mot17_ground_truth_whose_visibility_counts_what_the_image_border_cuts_off(recording):
    """truth/tracks: ``frame,id,x,y,w,h,1,1,visibility``; visibility is truth/boxes' ``visible`` (not hidden)
    times the share of the whole box inside the image, so a shopper walking in at the edge counts as
    partly visible, as in MOT17."""
    store = json.loads((recording / "store.json").read_text())
    for cam in store["cameras"]:
        tracks = pd.read_csv(recording / "truth" / "tracks" / f"{cam['id']}.txt", header=None)
        assert tracks.shape[1] == 9 and set(tracks[6]) == {1} and set(tracks[7]) == {1}
        boxes = read_truth_boxes(recording / "truth" / "boxes" / f"{cam['id']}.csv")
        shoppers = boxes[boxes["object"] == "shopper"].assign(frame=lambda b: b["frame"] + 1)
        both = tracks.rename(columns={0: "frame", 1: "track_id", 2: "x", 4: "w", 8: "visibility"}).merge(
            shoppers, on=["frame", "track_id"], validate="one_to_one")
        assert len(both) == len(tracks)
        cut = (both["x1"] <= 0) | (both["x2"] >= cam["width"]) | (both["y1"] <= 0) | (both["y2"] >= cam["height"])
        assert cut.any() and (~cut).any()  # the shoppers walk in and out of view
        # truth/boxes writes visible to one decimal: equal within its rounding where nothing is cut off,
        assert np.allclose(both.loc[~cut, "visibility"], both.loc[~cut, "visible"], atol=0.051)
        # never more than it, and much less where the border cuts the shopper
        assert (both["visibility"] <= both["visible"] + 0.051).all()
        assert both.loc[cut, "visibility"].mean() < both.loc[cut, "visible"].mean() - 0.2
