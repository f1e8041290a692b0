"""Shelf zones: polygons in a camera image, each naming a shelf and the plates it covers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np


@dataclass(frozen=True)
class ShelfZone:
    """A shelf region of one camera image. ``polygon_px`` has shape (K, 2), K >= 3, pixels (x, y)."""

    shelf: str
    plates: tuple[int, ...]
    polygon_px: tuple[tuple[float, float], ...]

    @cached_property
    def area_px(self) -> float:
        """Shoelace area (computed once: every frame's hand lookup orders the zones by it)."""
        xy = np.asarray(self.polygon_px, dtype=float)
        x, y = xy[:, 0], xy[:, 1]
        return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def points_in_polygon(points_px: np.ndarray, polygon_px: np.ndarray) -> np.ndarray:
    """Even-odd ray casting, vectorised over points.

    points_px: (N, 2) pixels; polygon_px: (K, 2) pixels. Returns a (N,) bool mask.
    """
    points = np.asarray(points_px, dtype=float).reshape(-1, 2)
    poly = np.asarray(polygon_px, dtype=float)
    x1, y1 = poly[:, 0], poly[:, 1]  # (K,)
    following = np.r_[1:len(poly), 0]  # each vertex's next one (np.roll, without its per-call overhead)
    return (_rays_cross(points, x1, y1, x1[following], y1[following]).sum(axis=1) % 2) == 1


def _rays_cross(points: np.ndarray, x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
    """(N, E) bool: the ray from each point towards +x crosses each edge (x1, y1) -> (x2, y2)."""
    x, y = points[:, 0:1], points[:, 1:2]  # (N, 1) against (E,) edges
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return crosses & (x < x_at)


def zone_of_points(points_px: np.ndarray, zones: tuple[ShelfZone, ...]) -> np.ndarray:
    """Index of the zone containing each point, -1 for none; overlapping zones: the smallest wins (of
    two as small, the later one). Every zone's edges at once (:func:`points_in_polygon`'s even-odd rule).

    points_px: (N, 2). Returns (N,) int.
    """
    points = np.asarray(points_px, dtype=float).reshape(-1, 2)
    result = np.full(len(points), -1, dtype=int)
    if not zones or not len(points):
        return result
    x1, y1, x2, y2, owner_of_edge, rank = _zone_edges(tuple(zones))
    crossings = np.zeros((len(points), len(zones)), dtype=int)
    np.add.at(crossings.T, owner_of_edge, _rays_cross(points, x1, y1, x2, y2).T)
    inside = crossings % 2 == 1
    best = np.where(inside, rank, -1).argmax(axis=1)  # the highest rank: the smallest zone
    hit = inside.any(axis=1)
    result[hit] = best[hit]
    return result


@lru_cache(maxsize=64)
def _zone_edges(zones: tuple[ShelfZone, ...]) -> tuple[np.ndarray, ...]:
    """Every zone's edges (x1, y1, x2, y2, owning zone) and each zone's rank: larger zones rank lower,
    equal areas by index (a camera's zones are looked up every frame: made once)."""
    polygons = [np.asarray(zone.polygon_px, dtype=float) for zone in zones]
    starts = np.vstack(polygons)
    ends = np.vstack([np.roll(polygon, -1, axis=0) for polygon in polygons])
    owner = np.repeat(np.arange(len(zones)), [len(polygon) for polygon in polygons])
    order = sorted(range(len(zones)), key=lambda i: -zones[i].area_px)
    rank = np.empty(len(zones), dtype=int)
    rank[order] = np.arange(len(zones))
    return starts[:, 0], starts[:, 1], ends[:, 0], ends[:, 1], owner, rank


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
