"""Shelf zones: polygons in a camera image, each naming a shelf and the plates it covers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShelfZone:
    """A shelf region of one camera image. ``polygon_px`` has shape (K, 2), K >= 3, pixels (x, y)."""

    shelf: str
    plates: tuple[int, ...]
    polygon_px: tuple[tuple[float, float], ...]

    @property
    def area_px(self) -> float:
        xy = np.asarray(self.polygon_px, dtype=float)
        x, y = xy[:, 0], xy[:, 1]
        return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def points_in_polygon(points_px: np.ndarray, polygon_px: np.ndarray) -> np.ndarray:
    """Even-odd ray casting, vectorised over points.

    points_px: (N, 2) pixels; polygon_px: (K, 2) pixels. Returns a (N,) bool mask.
    """
    points = np.asarray(points_px, dtype=float).reshape(-1, 2)
    poly = np.asarray(polygon_px, dtype=float)
    x, y = points[:, 0:1], points[:, 1:2]  # (N, 1)
    x1, y1 = poly[:, 0], poly[:, 1]  # (K,)
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    crosses = (y1 > y) != (y2 > y)  # (N, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    inside = crosses & (x < x_at)
    return (inside.sum(axis=1) % 2) == 1


def zone_of_points(points_px: np.ndarray, zones: tuple[ShelfZone, ...]) -> np.ndarray:
    """Index of the zone containing each point, -1 for none; overlapping zones: the smallest wins.

    points_px: (N, 2). Returns (N,) int.
    """
    points = np.asarray(points_px, dtype=float).reshape(-1, 2)
    result = np.full(len(points), -1, dtype=int)
    if not zones or not len(points):
        return result
    order = sorted(range(len(zones)), key=lambda i: -zones[i].area_px)
    for index in order:  # larger first, so smaller zones overwrite
        mask = points_in_polygon(points, np.asarray(zones[index].polygon_px))
        result[mask] = index
    return result


def check_zones(zones: tuple[ShelfZone, ...], width_px: int, height_px: int) -> list[str]:
    """Problems with zones against an image size: fewer than 3 points, points outside the image."""
    problems = []
    for i, zone in enumerate(zones):
        xy = np.asarray(zone.polygon_px, dtype=float)
        if len(xy) < 3:
            problems.append(f"zone {i} ({zone.shelf}) has {len(xy)} point(s); needs at least 3")
            continue
        outside = (xy[:, 0] < 0) | (xy[:, 0] > width_px) | (xy[:, 1] < 0) | (xy[:, 1] > height_px)
        if outside.all():
            problems.append(f"zone {i} ({zone.shelf}) lies entirely outside the {width_px}x{height_px} image")
        elif outside.any():
            problems.append(f"zone {i} ({zone.shelf}) leaves the {width_px}x{height_px} image")
    return problems
