"""Store geometry in a camera's image: shelf and plate boxes projected into zones, occlusion included.

A plate's zone is the part of the image where its box (the space above the plate, up to the next
board) is the nearest box seen: every box face that faces the camera is clipped at the camera's near
plane, its edges split so that lens distortion can bend them, projected, and painted far to near
into a label image; each plate keeps the outline of the pixels it won. A plate no camera pixel shows
(behind the camera, outside the image, hidden behind other boxes) gets no zone and a note.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from formats.store import Box, Calibration, Shelf, Zone

# Corner indices of a Box's faces (corner index bits: x 4, y 2, z 1), each counter-clockwise seen
# from outside.
FACES = ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3))


@dataclass(frozen=True)
class ProjectionConfig:
    """``near_m``: faces are clipped this far in front of the camera; ``edge_steps``: each face edge
    is split into this many pieces before projection (distortion bends straight edges);
    ``min_area_px``: a plate showing fewer pixels than this gets no zone; ``simplify_px``: zone
    outlines are simplified to within this many pixels."""

    near_m: float = 0.05
    edge_steps: int = 8
    min_area_px: float = 30.0
    simplify_px: float = 1.0


def _clip_near(polygon: np.ndarray, near_m: float) -> np.ndarray:
    """Sutherland-Hodgman: the part of a planar polygon (N, 3, camera coordinates) with depth >= near."""
    inside = polygon[:, 2] >= near_m
    if inside.all() or not inside.any():
        return polygon if inside.all() else polygon[:0]
    out = []
    for i in range(len(polygon)):
        a, b = polygon[i], polygon[(i + 1) % len(polygon)]
        if a[2] >= near_m:
            out.append(a)
        if (a[2] >= near_m) != (b[2] >= near_m):
            out.append(a + (near_m - a[2]) / (b[2] - a[2]) * (b - a))
    return np.array(out)


def _subdivide(corners: np.ndarray, steps: int) -> np.ndarray:
    """(K, 3) polygon -> its edges split into ``steps`` pieces each, (K * steps, 3)."""
    u = np.arange(steps)[:, None] / steps
    nxt = np.roll(corners, -1, axis=0)
    return np.concatenate([a + u * (b - a) for a, b in zip(corners, nxt, strict=True)])


def label_image(calibration: Calibration, boxes: list[Box], config: ProjectionConfig | None = None) -> np.ndarray:
    """(H, W) int32: for each pixel, 1 + the index of the nearest box seen there, 0 for none."""
    config = config or ProjectionConfig()
    width, height = calibration.image_size_px
    labels = np.zeros((height, width), np.int32)
    eye = calibration.position_m
    faces: list[tuple[float, int, np.ndarray]] = []
    for index, box in enumerate(boxes):
        corners = box.corners()
        centre = corners.mean(axis=0)
        for face in FACES:
            quad = corners[list(face)]
            middle = quad.mean(axis=0)
            if np.dot(middle - centre, eye - middle) <= 0:  # faces away from the camera
                continue
            cam = _clip_near(calibration.to_camera(_subdivide(quad, config.edge_steps)), config.near_m)
            if len(cam) < 3:
                continue
            faces.append((float(np.linalg.norm(eye - middle)), index, cam))
    for _, index, cam in sorted(faces, key=lambda f: -f[0]):
        pixels = calibration.camera_to_pixels(cam)
        if not np.isfinite(pixels).all() or np.abs(pixels).max() > 1e6:
            continue
        cv2.fillPoly(labels, [np.round(pixels * 16).astype(np.int32)], int(index + 1), cv2.LINE_8, 4)
    return labels


def projected_zones(calibration: Calibration, shelves: tuple[Shelf, ...],
                    config: ProjectionConfig | None = None) -> tuple[tuple[Zone, ...], tuple[str, ...]]:
    """Zones of one calibrated camera: one per plate (per shelf for a shelf without plate boxes), in
    the order of ``shelves``; and a note for each plate that no pixel shows."""
    config = config or ProjectionConfig()
    units: list[tuple[str, tuple[int, ...], Box]] = []
    for shelf in shelves:
        if shelf.plates:
            units += [(shelf.shelf, (number,), box) for number, box in shelf.plates]
        else:
            units.append((shelf.shelf, (), shelf.box))
    labels = label_image(calibration, [box for _, _, box in units], config)
    zones: list[Zone] = []
    notes: list[str] = []
    for index, (shelf, plates, _) in enumerate(units):
        mask = (labels == index + 1).astype(np.uint8)
        name = f"{shelf}/{plates[0]}" if plates else shelf
        if mask.sum() < config.min_area_px:
            notes.append(f"{name}: not in view (behind the camera, outside the image or hidden)")
            continue
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        largest = max(contours, key=cv2.contourArea)
        outline = cv2.approxPolyDP(largest, config.simplify_px, True).reshape(-1, 2)
        if len(outline) < 3 or cv2.contourArea(outline) < config.min_area_px:
            notes.append(f"{name}: shows too few pixels for a zone")
            continue
        zones.append(Zone(shelf, plates, tuple((float(x), float(y)) for x, y in outline)))
    return tuple(zones), tuple(notes)
