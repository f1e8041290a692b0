"""Pose-based hand sources and the held-item source for real footage.

- ultralytics pose models: every person is a shopper, each confident wrist a hand owned by its person;
- the offline MediaPipe backend: pose person + hand landmarks combined into the same Detections,
  hands of people the single-person pose model misses get a stand-in person, hands at rest are dropped;
- the ``reach`` held-item source: a completed shelf reach adds one unnamed item.

Inputs are hand-built; tests that run mediapipe skip when it is not installed, tests on the real
AiFi camera skip when ``../shared/data`` is absent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest
import supervision as sv
import torch

from formats.tables import HAND_COLUMNS
from vision.detector import ROLE_HAND, ROLE_SHOPPER, Detector, DetectorConfig
from vision.errors import InputError
from vision.mediapipe_hands import combine, import_mediapipe, person_box
from vision.products import HeldConfig, held_after_reach

CONFIG = DetectorConfig(backend="mediapipe", pose_hand_size=0.1, mediapipe_wrist_match=1.0,
                        mediapipe_hand_reach=0.25, mediapipe_standin_scale=3.0, mediapipe_resting_hand=0.5)
SIZE = (640, 360)
PERSON = np.array([100.0, 50.0, 200.0, 350.0])  # 100 x 300 px: pose hand boxes are 30 px, diagonal ~316 px
NO_POINTS = np.empty((0, 2))
NO_BOXES = np.empty((0, 4))
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "aifi-cps-test-2"
ZONES_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "aifi" / "cam6_zones.json"


def rows(detections):
    """(role, person) per row, for compact expectations."""
    return list(zip(detections.data["role"].tolist(), detections.data["person"].tolist(), strict=True))


# --- combine: the pure part of the MediaPipe backend -------------------------------------------------


def test_nothing_seen_is_empty_detections_with_the_pipeline_keys():
    out = combine(None, 0.0, NO_POINTS, np.empty(0), NO_BOXES, NO_POINTS, np.empty(0), CONFIG, SIZE)
    assert len(out) == 0
    assert set(out.data) >= {"role", "sku", "person"}


def test_pose_wrist_becomes_a_hand_of_the_person():
    out = combine(PERSON, 0.9, np.array([[190.0, 200.0]]), np.array([0.8]), NO_BOXES, NO_POINTS, np.empty(0),
                  CONFIG, SIZE)
    assert rows(out) == [(ROLE_SHOPPER, -1), (ROLE_HAND, 0)]
    half = 0.1 * 300 / 2
    np.testing.assert_allclose(out.xyxy[1], [190 - half, 200 - half, 190 + half, 200 + half])
    np.testing.assert_allclose(out.confidence, [0.9, 0.8])


def test_hand_model_hand_at_a_pose_wrist_replaces_the_wrist():
    hand = np.array([[180.0, 190.0, 200.0, 210.0]])  # 20 px box, its wrist 5 px from the pose wrist
    out = combine(PERSON, 0.9, np.array([[190.0, 200.0]]), np.array([0.8]), hand, np.array([[193.0, 204.0]]),
                  np.array([0.95]), CONFIG, SIZE)
    assert rows(out) == [(ROLE_SHOPPER, -1), (ROLE_HAND, 0)]
    np.testing.assert_allclose(out.xyxy[1], hand[0])


def test_hand_within_reach_of_the_person_box_is_theirs():
    # 60 px right of the box: 60 / 316 = 0.19 of the diagonal <= 0.25.
    hand = np.array([[250.0, 100.0, 270.0, 120.0]])
    out = combine(PERSON, 0.9, NO_POINTS, np.empty(0), hand, np.array([[260.0, 120.0]]), np.array([0.9]), CONFIG, SIZE)
    assert rows(out) == [(ROLE_SHOPPER, -1), (ROLE_HAND, 0)]


def test_far_hand_gets_a_stand_in_person_grown_around_it_and_clipped():
    hand = np.array([[600.0, 300.0, 640.0, 340.0]])  # far from the person, at the image corner
    out = combine(PERSON, 0.9, NO_POINTS, np.empty(0), hand, np.array([[620.0, 340.0]]), np.array([0.7]), CONFIG, SIZE)
    assert rows(out) == [(ROLE_SHOPPER, -1), (ROLE_SHOPPER, -1), (ROLE_HAND, 1)]
    # Grown 3x around the centre (620, 320): 120 px wide, clipped to the 640 x 360 image.
    np.testing.assert_allclose(out.xyxy[1], [560, 260, 640, 360])
    assert out.confidence[1] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("hands", "people"),
    [
        ([[100.0, 100.0, 120.0, 120.0], [130.0, 100.0, 150.0, 120.0]], 1),  # 30 px apart: one person's two hands
        ([[100.0, 100.0, 120.0, 120.0], [400.0, 100.0, 420.0, 120.0]], 2),  # far apart: two people
        ([], 0),
    ],
)
def test_hands_without_a_pose_person_share_stand_ins_when_close(hands, people):
    boxes = np.asarray(hands, dtype=float).reshape(-1, 4)
    out = combine(None, 0.0, NO_POINTS, np.empty(0), boxes, (boxes[:, :2] + boxes[:, 2:]) / 2,
                  np.full(len(boxes), 0.9), CONFIG, SIZE)
    assert int((out.data["role"] == ROLE_SHOPPER).sum()) == people
    persons = out.data["person"][out.data["role"] == ROLE_HAND]
    assert len(persons) == len(hands)
    assert (out.data["role"][persons] == ROLE_SHOPPER).all()


def test_hands_at_rest_by_the_hips_are_dropped_but_a_reaching_hand_is_kept():
    hips = np.array([[130.0, 200.0], [170.0, 200.0]])
    torso = 100.0  # resting: within 0.5 * 100 = 50 px of a hip
    resting_wrist = np.array([[125.0, 230.0]])  # 30 px from the left hip
    reaching = np.array([[240.0, 80.0, 260.0, 100.0]])  # hand-model hand up and out, 100+ px from the hips
    out = combine(PERSON, 0.9, resting_wrist, np.array([0.9]), reaching, np.array([[250.0, 100.0]]),
                  np.array([0.9]), CONFIG, SIZE, hips_px=hips, torso_px=torso)
    assert rows(out) == [(ROLE_SHOPPER, -1), (ROLE_HAND, 0)]
    np.testing.assert_allclose(out.xyxy[1], reaching[0])


def test_person_box_uses_visible_landmarks_only_and_clips_to_the_image():
    landmarks = np.array([[-20.0, 10.0], [50.0, 400.0], [30.0, 100.0], [500.0, 500.0]])
    visibility = np.array([0.9, 0.9, 0.9, 0.1])
    np.testing.assert_allclose(person_box(landmarks, visibility, 0.5, 640, 360), [0, 10, 50, 360])
    assert person_box(landmarks, np.array([0.9, 0.9, 0.1, 0.1]), 0.5, 640, 360) is None


def test_missing_mediapipe_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(ImportError, match=r"pip install 'walkout\[mediapipe\]'"):
        import_mediapipe()


def test_backend_must_be_known():
    with pytest.raises(ValueError, match="backend"):
        DetectorConfig(backend="opencv")


# --- the MediaPipe backend itself ---------------------------------------------------------------------


def test_mediapipe_backend_finds_nobody_in_an_empty_frame():
    pytest.importorskip("mediapipe", reason="optional mediapipe extra not installed (pip install 'walkout[mediapipe]')")
    from vision.mediapipe_hands import MediaPipeDetector

    detector = MediaPipeDetector(CONFIG)
    out = detector.detect([np.full((360, 640, 3), 127, dtype=np.uint8)] * 2)
    assert [len(d) for d in out] == [0, 0]
    detector.close()


def aifi_frames(first: int, count: int) -> list[np.ndarray]:
    """``count`` frames of the real AiFi cam6 from frame ``first``."""
    capture = cv2.VideoCapture(str(SHARED / "videos" / "cam6.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, first)
    frames = [capture.read()[1] for _ in range(count)]
    capture.release()
    return frames


def test_mediapipe_backend_sees_the_reaching_hand_on_the_real_aifi_camera():
    pytest.importorskip("mediapipe", reason="optional mediapipe extra not installed (pip install 'walkout[mediapipe]')")
    if not SHARED.is_dir():
        pytest.skip(f"real AiFi data not found at {SHARED}")
    from vision.mediapipe_hands import MediaPipeDetector

    frames = aifi_frames(150, 10)  # 15.0-15.9 s: an arm reaches into G2 at the bottom left
    out = MediaPipeDetector(DetectorConfig(backend="mediapipe")).detect(frames)
    hands = [d[d.data["role"] == ROLE_HAND] for d in out]
    centres = np.vstack([h.get_anchors_coordinates(sv.Position.CENTER) for h in hands if len(h)])
    assert len(centres) >= 3
    # In the G2 corner (bottom left of the image), each with a person row.
    assert ((centres[:, 0] < 250) & (centres[:, 1] > 270)).mean() >= 0.75
    for d in out:
        persons = d.data["person"][d.data["role"] == ROLE_HAND]
        assert (d.data["role"][persons] == ROLE_SHOPPER).all()


def test_pose_and_hands_run_at_once_give_the_landmarks_of_one_after_the_other():
    pytest.importorskip("mediapipe", reason="optional mediapipe extra not installed (pip install 'walkout[mediapipe]')")
    if not SHARED.is_dir():
        pytest.skip(f"real AiFi data not found at {SHARED}")
    from vision.mediapipe_hands import MediaPipeDetector

    frames = aifi_frames(140, 30)  # a shopper reaching: people and hands in most frames
    at_once = MediaPipeDetector(DetectorConfig(backend="mediapipe")).detect(frames)
    in_turn = MediaPipeDetector(DetectorConfig(backend="mediapipe"), concurrent=False).detect(frames)
    assert sum(len(d) for d in in_turn) >= 30
    for a, b in zip(at_once, in_turn, strict=True):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.data["role"], b.data["role"])
        np.testing.assert_array_equal(a.data["person"], b.data["person"])


# --- ultralytics pose models: wrists become hands of their person ------------------------------------


def fake_pose_result(xy: np.ndarray, conf: np.ndarray):
    """What ``_with_wrists`` reads of an ultralytics pose result: keypoints.xy (N, 17, 2), .conf (N, 17)."""
    return SimpleNamespace(keypoints=SimpleNamespace(xy=torch.as_tensor(xy), conf=torch.as_tensor(conf)))


def test_pose_wrists_become_hands_of_their_person():
    detector = Detector.__new__(Detector)
    detector.config = DetectorConfig(pose_hand_size=0.1, pose_min_keypoint_confidence=0.5)
    people = sv.Detections(xyxy=np.array([[0.0, 0.0, 100.0, 200.0], [300.0, 0.0, 400.0, 100.0]]),
                           confidence=np.array([0.9, 0.8]), class_id=np.array([0, 0]),
                           data={"role": np.array([0, 0]), "sku": np.array(["", ""]), "person": np.array([-1, -1]),
                                 "class_name": np.array(["person", "person"])})
    xy = np.zeros((2, 17, 2))
    conf = np.zeros((2, 17))
    xy[0, 9], conf[0, 9] = (10, 150), 0.9  # person 0: left wrist confident
    xy[0, 10], conf[0, 10] = (90, 150), 0.2  # person 0: right wrist not
    xy[1, 9], conf[1, 9] = (310, 80), 0.7  # person 1: both wrists
    xy[1, 10], conf[1, 10] = (390, 80), 0.6
    out = detector._with_wrists(people, fake_pose_result(xy, conf))
    assert rows(out) == [(ROLE_SHOPPER, -1), (ROLE_SHOPPER, -1), (ROLE_HAND, 0), (ROLE_HAND, 1), (ROLE_HAND, 1)]
    np.testing.assert_allclose(out.xyxy[2], [0, 140, 20, 160])  # side 0.1 * 200 px around (10, 150)
    np.testing.assert_allclose(out.xyxy[3], [305, 75, 315, 85])  # the 4 px floor of a half side: 0.1 * 100 / 2 = 5
    np.testing.assert_allclose(out.confidence[2:], [0.9, 0.7, 0.6])


def test_walkout_arm_pose_layout_has_its_wrists_at_2_and_5():
    """walkout-pose.pt has 6 keypoints (shoulder, elbow, wrist of each arm); other layouts must say."""
    detector = Detector.__new__(Detector)
    detector.config = DetectorConfig(pose_hand_size=0.1, pose_min_keypoint_confidence=0.5, model_path="arms.pt")
    people = sv.Detections(xyxy=np.array([[0.0, 0.0, 100.0, 200.0]]), confidence=np.array([0.9]),
                           class_id=np.array([0]), data={"role": np.array([0]), "sku": np.array([""]),
                                                         "person": np.array([-1])})
    xy, conf = np.zeros((1, 6, 2)), np.full((1, 6), 0.9)
    xy[0, 2], xy[0, 5] = (10, 150), (90, 150)
    out = detector._with_wrists(people, fake_pose_result(xy, conf))
    np.testing.assert_allclose(out.xyxy[1:, 0] + 10, [10, 90])
    with pytest.raises(InputError, match="arms.pt.*5 keypoints.*pose_wrists"):
        detector._with_wrists(people, fake_pose_result(np.zeros((1, 5, 2)), np.ones((1, 5))))
    detector.config = DetectorConfig(pose_hand_size=0.1, pose_wrists=(0, 4))
    np.testing.assert_allclose(detector._with_wrists(people, fake_pose_result(np.zeros((1, 5, 2)), np.ones((1, 5))))
                               .xyxy[1:, 0], [-10, -10])


def test_untrained_ultralytics_pose_model_runs_through_the_detector(tmp_path):
    """No trained pose weights are available offline: an untrained model built from the architecture
    file proves the wiring (keypoints -> wrists -> hands attached to persons), not accuracy."""
    from ultralytics import YOLO

    torch.manual_seed(0)
    path = tmp_path / "pose-untrained.pt"
    YOLO("yolov8n-pose.yaml").save(str(path))
    detector = Detector(DetectorConfig(model_path=str(path), imgsz=160, confidence=0.0, shopper_confidence=0.0,
                                       pose_min_keypoint_confidence=0.0))
    assert detector.task == "pose"
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    (out,) = detector.detect([frame])
    shoppers = np.flatnonzero(out.data["role"] == ROLE_SHOPPER)
    hands = out.data["role"] == ROLE_HAND
    assert len(shoppers) > 0 and hands.sum() == 2 * len(shoppers)  # keypoint threshold 0: both wrists of each
    persons = out.data["person"][hands]
    assert set(persons.tolist()) == set(shoppers.tolist())
    assert np.bincount(persons).max() == 2


# --- the reach held-item source -----------------------------------------------------------------------


def hand_table(entries: list[tuple[int, int, int]]) -> pd.DataFrame:
    """(frame, owner, zone) per row."""
    return pd.DataFrame([{"frame": f, "owner": o, "x": 0.0, "y": 0.0, "zone": z, "sku": "", "count": 0,
                          "sku_confidence": 0.0} for f, o, z in entries], columns=list(HAND_COLUMNS))


@pytest.mark.parametrize(
    ("zones", "held"),
    [
        ([-1, -1, 0, 0, 0, -1, -1], [0, 0, 0, 0, 0, 1, 1]),  # a reach of 3 frames, then out: one item from then on
        ([-1, 0, -1, -1], [0, 0, 0, 0]),  # 1 frame in a zone: a hand passing over
        ([-1, 0, 0, 0, 0], [0, 0, 0, 0, 0]),  # still in the zone at the end: not complete
        ([0, 0, -1, 2, 2, -1], [0, 0, 1, 1, 1, 2]),  # two reaches: two items
        ([], []),
    ],
)
def test_a_completed_reach_adds_one_unnamed_item(zones, held):
    table = hand_table([(f, 7, z) for f, z in enumerate(zones)])
    out = held_after_reach(table, min_frames=2)
    assert out["count"].tolist() == held
    assert (out["sku"] == "").all() and (out["sku_confidence"] == 0).all()


def test_reach_count_is_put_once_per_owner_and_frame():
    # Two hands of owner 1 in every frame; one of them reaches (frames 0-1) and leaves (frame 2).
    table = hand_table([(0, 1, 0), (0, 1, -1), (1, 1, 0), (1, 1, -1), (2, 1, -1), (2, 1, -1), (2, 2, -1), (3, -1, 0)])
    out = held_after_reach(table, min_frames=2)
    per_frame = out[out["owner"] == 1].groupby("frame")["count"].sum()
    assert per_frame.tolist() == [0, 0, 1]
    assert out.loc[out["owner"] == 2, "count"].tolist() == [0]
    assert out.loc[out["owner"] == -1, "count"].tolist() == [0]  # unowned hands hold nothing


def test_held_source_must_be_known():
    assert HeldConfig(source="reach").source == "reach"
    with pytest.raises(ValueError, match="held.source"):
        HeldConfig(source="magic")


# --- end to end on the real camera --------------------------------------------------------------------


def test_pipeline_with_mediapipe_finds_the_labelled_pick_in_a_real_clip(tmp_path):
    """Frames 140-179 of cam6 (14.0-17.9 s) with the benchmark's zones: the one labelled pick in view
    (Kettle Chips Jalapeno from G2S6 plates 8-9 at 16.0 s) is found, at the right time."""
    pytest.importorskip("mediapipe", reason="optional mediapipe extra not installed (pip install 'walkout[mediapipe]')")
    if not SHARED.is_dir():
        pytest.skip(f"real AiFi data not found at {SHARED}")
    from walkout.config import load_config
    from walkout.pipeline import run_recordings

    root = tmp_path / "clip"
    (root / "videos").mkdir(parents=True)
    capture = cv2.VideoCapture(str(SHARED / "videos" / "cam6.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 140)
    writer = cv2.VideoWriter(str(root / "videos" / "cam6.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (640, 360))
    for _ in range(40):
        writer.write(capture.read()[1])
    writer.release()
    capture.release()
    store = json.loads((SHARED / "store.json").read_text())
    camera = store["cameras"][0]
    camera["start_timestamp"] += 14.0
    camera["zones"] = json.loads(ZONES_FILE.read_text())["zones"]["cam6"]
    (root / "store.json").write_text(json.dumps(store))
    for name in ("catalog.csv", "planogram.csv"):
        (root / name).write_text((SHARED / name).read_text())
    config = load_config(ZONES_FILE.parent / "walkout.toml")
    (result,) = run_recordings([root], tmp_path / "run", config)
    assert result.ok, result.error
    events = pd.read_csv(tmp_path / "run" / "clip" / "events.csv", dtype=str)
    assert events[["action", "sku", "shelf", "plates"]].values.tolist() == [["pick", "084114115881", "G2S6", "8;9"]]
    assert abs(float(events["timestamp"][0]) - 1573094128.0) <= 1.0
