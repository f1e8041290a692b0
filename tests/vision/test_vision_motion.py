"""Idle frames (vision.motion): a frame where nothing moved since the last detected frame is idle."""

from __future__ import annotations

import numpy as np
import pytest

from vision.motion import MotionConfig, MotionGate


def scene(square_x: int | None = None, noise: float = 0.0, brightness: int = 90, seed: int = 0) -> np.ndarray:
    """A 640x360 grey shelf scene; a 40x60 bright 'shopper' at ``square_x`` (None: an empty aisle)."""
    rng = np.random.default_rng(seed)
    frame = np.full((360, 640, 3), brightness, dtype=np.uint8)
    frame[40:80, :, :] = 150  # a shelf
    if square_x is not None:
        frame[150:210, square_x:square_x + 40] = 230
    if noise:
        frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
    return frame


def test_a_static_sequence_is_idle_after_its_first_frame():
    gate = MotionGate(MotionConfig())
    frames = [scene(noise=3.0, seed=i) for i in range(20)]  # sensor noise, nothing moves
    assert gate.active(frames) == [True] + [False] * 19


def test_a_moving_shopper_makes_every_frame_active():
    gate = MotionGate(MotionConfig())
    assert gate.active([scene(square_x=100 + 6 * i) for i in range(20)]) == [True] * 20


def test_a_shopper_standing_still_is_idle_and_the_first_movement_is_active_at_once():
    gate = MotionGate(MotionConfig())
    frames = [scene(square_x=300)] * 10 + [scene(square_x=304)]
    assert gate.active(frames) == [True] + [False] * 9 + [True]


def test_a_slow_change_adds_up_against_the_keyframe():
    """Each step changes less than the threshold from the frame before, but the frames are compared
    with the last detected frame, so the change counts once it is large enough."""
    gate = MotionGate(MotionConfig())
    frames = [scene(brightness=90 + 4 * i) for i in range(10)]  # 4 grey levels a frame, threshold 16
    active = gate.active(frames)
    assert active[0] and not all(active[1:]) and any(active[1:])


def test_the_keyframe_is_kept_across_batches():
    gate = MotionGate(MotionConfig())
    assert gate.active([scene(), scene()]) == [True, False]
    assert gate.active([scene(), scene(square_x=50)]) == [False, True]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="blur_px"):
        MotionConfig(blur_px=4)
    with pytest.raises(ValueError, match="min_changed_share"):
        MotionConfig(min_changed_share=1.5)
