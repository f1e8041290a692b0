"""Articulated shoppers: a pose at any time from the compiled script, and the 3D primitives drawing it.

A figure is capsules (legs, torso, shoulders, arms) and spheres (head, hair, hands) in world metres;
held items are products standing in the hand. The renderer projects and depth-sorts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mockstore.script import Look, ShopperTrack, Simulation

ARMS = ("left", "right")


@dataclass(frozen=True)
class FigureConfig:
    """Body proportions as shares of height, radii in metres, walking stride in metres."""

    stride_m: float = 0.65
    shoulder_half_m: float = 0.2
    hip_half_m: float = 0.09
    torso_radius_m: float = 0.15
    shoulder_radius_m: float = 0.085
    leg_radius_m: float = 0.065
    upper_arm_radius_m: float = 0.05
    forearm_radius_m: float = 0.04
    head_radius_m: float = 0.1
    hand_radius_m: float = 0.052
    lean_m: float = 0.16


@dataclass(frozen=True)
class Pose:
    """Where a shopper is at one instant. Vectors are world metres; ``face`` is a unit xy vector."""

    shopper: int
    xy: tuple[float, float]
    face: tuple[float, float]
    swing: float
    reach: float
    hands_m: tuple[tuple[float, float, float], tuple[float, float, float]]
    held: tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class Primitive:
    """A capsule (``radius_m`` around p0-p1), a sphere (p0, radius_m) or a product (sku at p0, facing p1)."""

    kind: str
    p0: tuple[float, float, float]
    p1: tuple[float, float, float]
    radius_m: float
    color_bgr: tuple[int, int, int]
    part: str
    sku: str = ""
    item: int = 0
    outline: bool = False


def _smooth(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


def _turn(a: tuple[float, float], b: tuple[float, float], u: float) -> tuple[float, float]:
    ang_a, ang_b = math.atan2(a[1], a[0]), math.atan2(b[1], b[0])
    d = (ang_b - ang_a + math.pi) % (2 * math.pi) - math.pi
    ang = ang_a + d * _smooth(u)
    return math.cos(ang), math.sin(ang)


def shopper_pose(track: ShopperTrack, sim: Simulation, t_s: float, config: FigureConfig | None = None) -> Pose | None:
    """The pose of a shopper at ``t_s`` (seconds from clip start), or None before entering / after leaving."""
    config = config or FigureConfig()
    if t_s < track.t_enter_s or t_s >= track.t_exit_s or not track.segments:
        return None
    segs = track.segments
    k = 0
    while k + 1 < len(segs) and segs[k + 1].t0_s <= t_s:
        k += 1
    seg = segs[k]
    u = 0.0 if seg.t1_s <= seg.t0_s else min(max((t_s - seg.t0_s) / (seg.t1_s - seg.t0_s), 0.0), 1.0)
    swing = 0.0
    reach = 0.0
    if seg.kind == "walk":
        xy = (seg.start_xy[0] + u * (seg.end_xy[0] - seg.start_xy[0]),
              seg.start_xy[1] + u * (seg.end_xy[1] - seg.start_xy[1]))
        dist = u * math.hypot(seg.end_xy[0] - seg.start_xy[0], seg.end_xy[1] - seg.start_xy[1])
        swing = math.sin(2 * math.pi * dist / config.stride_m)
        prev_face = segs[k - 1].face_xy if k > 0 else seg.face_xy
        face = _turn(prev_face, seg.face_xy, (t_s - seg.t0_s) / sim.config.turn_s)
    else:
        xy = seg.start_xy
        prev_face = segs[k - 1].face_xy if k > 0 else seg.face_xy
        face = _turn(prev_face, seg.face_xy, (t_s - seg.t0_s) / sim.config.turn_s) if seg.kind == "stand" \
            else seg.face_xy
    held = sim.held_items(track.id, t_s)
    h = track.look.height_m
    f = np.array([face[0], face[1], 0.0])
    r = np.array([f[1], -f[0], 0.0])
    base = np.array([xy[0], xy[1], 0.0])
    hands = []
    for side, arm in zip((-1.0, 1.0), ARMS, strict=True):
        holding = len(held[0 if arm == "left" else 1]) > 0
        if holding:
            # Carried beside the hip, away from the body: a ceiling camera behind the shopper sees it
            # (held in front of the chest, the torso would hide it from most camera positions).
            hand = base + side * 0.34 * r + 0.06 * f + [0, 0, 0.5 * h]
        else:
            hand = base + side * 0.25 * r - 0.18 * swing * side * f + [0, 0, 0.47 * h]
        hands.append(hand)
    if seg.kind == "reach":
        c = sim.config
        dt = t_s - seg.t0_s
        if dt < c.extend_s:
            reach = _smooth(dt / c.extend_s)
        elif dt < c.extend_s + c.dwell_s:
            reach = 1.0
        else:
            reach = 1.0 - _smooth((dt - c.extend_s - c.dwell_s) / c.retract_s)
        target = np.array(sim.events[seg.event].target_m)
        a = 0 if seg.arm == "left" else 1
        hands[a] = hands[a] + reach * (target - hands[a])
    return Pose(track.id, (float(xy[0]), float(xy[1])), (float(face[0]), float(face[1])), swing, reach,
                (tuple(float(v) for v in hands[0]), tuple(float(v) for v in hands[1])), held)


# Keypoints of a shopper's arms, in this order (pose labels of ``mockstore.yolo.pose_lines``).
ARM_KEYPOINTS = ("left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist")


def _upper_body(pose: Pose, config: FigureConfig) -> np.ndarray:
    """Where the upper body stands: leaning towards the reaching hand, lowered for low shelves."""
    f = np.array([pose.face[0], pose.face[1], 0.0])
    base = np.array([pose.xy[0], pose.xy[1], 0.0])
    hands = [np.array(p) for p in pose.hands_m]
    reach_target = max(hands, key=lambda p: float(np.dot(p - base, f)))
    lean_dir = reach_target - base
    lean_dir[2] = 0
    lean_dir /= np.linalg.norm(lean_dir) + 1e-9
    low = max(0.0, 0.9 - reach_target[2]) * 0.35 * pose.reach
    return base + pose.reach * config.lean_m * lean_dir + [0, 0, -low]


def arm_joints(pose: Pose, look: Look, config: FigureConfig | None = None) -> np.ndarray:
    """(6, 3) world metres of the joints named by ``ARM_KEYPOINTS`` (the wrist is the hand's centre)."""
    config = config or FigureConfig()
    s = look.height_m / 1.75
    f = np.array([pose.face[0], pose.face[1], 0.0])
    r = np.array([f[1], -f[0], 0.0])
    upper = _upper_body(pose, config)
    joints = []
    for a, side in enumerate((-1.0, 1.0)):
        shoulder = upper + side * config.shoulder_half_m * s * r + [0, 0, 0.81 * look.height_m]
        hand = np.array(pose.hands_m[a])
        elbow = (shoulder + hand) / 2 + side * 0.06 * r + [0, 0, -0.06]
        joints += [shoulder, elbow, hand]
    return np.array(joints)


def figure_primitives(pose: Pose, look: Look, sim: Simulation, config: FigureConfig | None = None) -> list[Primitive]:
    """The 3D primitives of one shopper in ``pose`` (body parts, hands, held items)."""
    config = config or FigureConfig()
    h = look.height_m
    s = h / 1.75
    f = np.array([pose.face[0], pose.face[1], 0.0])
    r = np.array([f[1], -f[0], 0.0])
    base = np.array([pose.xy[0], pose.xy[1], 0.0])
    upper = _upper_body(pose, config)
    joints = arm_joints(pose, look, config)

    hip_z, chest_z, head_z = 0.5 * h, 0.74 * h, 0.92 * h
    pelvis = base + [0, 0, hip_z]
    chest = upper + [0, 0, chest_z]
    shoulders = [joints[0], joints[3]]
    head = upper + 0.02 * f + [0, 0, head_z]
    prims: list[Primitive] = []

    def add(kind, p0, p1, radius, color, part, outline=False):
        prims.append(Primitive(kind, tuple(float(v) for v in p0), tuple(float(v) for v in p1), radius, color,
                               part, outline=outline))

    for side in (-1, 1):
        hip = pelvis + side * config.hip_half_m * s * r
        foot = base + side * config.hip_half_m * s * r + side * 0.22 * pose.swing * f + [0, 0, 0.05]
        add("capsule", hip, foot, config.leg_radius_m * s, look.pants_bgr, "body")
    add("capsule", pelvis, chest, config.torso_radius_m * s, look.shirt_bgr, "body", outline=True)
    add("capsule", shoulders[0], shoulders[1], config.shoulder_radius_m * s, look.shirt_bgr, "body", outline=True)
    for a, arm in enumerate(ARMS):
        shoulder, elbow, hand = joints[3 * a], joints[3 * a + 1], joints[3 * a + 2]
        side = -1.0 if arm == "left" else 1.0
        add("capsule", shoulder, elbow, config.upper_arm_radius_m * s, look.shirt_bgr, "body")
        add("capsule", elbow, hand, config.forearm_radius_m * s, look.skin_bgr, "body")
        add("sphere", hand, hand, config.hand_radius_m * s, tuple(int(c * 0.9) for c in look.skin_bgr), f"hand_{arm}")
        ids = pose.held[a]
        for n, item_id in enumerate(ids):
            item = sim.items[item_id]
            product = sim.scenario.product(item.sku)
            # Gripped by its side: the item sits beside the hand, outwards, not hidden under it.
            outward = side * (config.hand_radius_m * s + (n + 0.5) * (product.width_m + 0.01))
            grip = hand + outward * r + 0.02 * f - [0, 0, 0.25 * product.height_m]
            prims.append(Primitive("product", tuple(float(v) for v in grip), (float(f[0]), float(f[1]), 0.0), 0.0,
                                   product.color_bgr, "item", sku=item.sku, item=item_id))
    add("sphere", head, head, config.head_radius_m * s, look.skin_bgr, "body", outline=True)
    if not look.bald:
        hair = head - 0.025 * f + [0, 0, 0.02]
        add("sphere", hair, hair, config.head_radius_m * s * 0.93, look.hair_bgr, "body")
    return prims
