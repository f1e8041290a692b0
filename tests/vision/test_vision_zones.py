"""Shelf zones: point-in-polygon, overlapping zones, zones against the image."""

from __future__ import annotations

import numpy as np
import pytest

from vision.zones import ShelfZone, check_zones, points_in_polygon, zone_of_points

SQUARE = np.array([[0, 0], [10, 0], [10, 10], [0, 10]])


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (np.empty((0, 2)), []),
        ([[5, 5]], [True]),
        ([[15, 5], [-1, 5], [5, 11]], [False, False, False]),
        ([[1, 9], [9, 1]], [True, True]),
    ],
)
def test_points_in_square(points, expected):
    assert points_in_polygon(np.asarray(points, dtype=float), SQUARE).tolist() == expected


def test_concave_polygon_excludes_its_notch():
    u_shape = np.array([[0, 0], [10, 0], [10, 10], [7, 10], [7, 3], [3, 3], [3, 10], [0, 10]])
    assert points_in_polygon(np.array([[5.0, 8.0], [1.0, 8.0], [5.0, 1.0]]), u_shape).tolist() == [False, True, True]


def test_smaller_zone_wins_where_zones_overlap():
    big = ShelfZone("A", (1, 2, 3), ((0, 0), (100, 0), (100, 100), (0, 100)))
    small = ShelfZone("A", (2,), ((40, 40), (60, 40), (60, 60), (40, 60)))
    assert zone_of_points(np.array([[50, 50], [10, 10], [200, 200]]), (big, small)).tolist() == [1, 0, -1]


def test_no_zones_means_no_zone():
    assert zone_of_points(np.array([[1.0, 1.0]]), ()).tolist() == [-1]


def test_zone_checks_name_the_problem():
    inside = ShelfZone("A", (1,), ((1, 1), (5, 1), (5, 5)))
    leaving = ShelfZone("B", (1,), ((1, 1), (700, 1), (5, 5)))
    outside = ShelfZone("C", (1,), ((700, 400), (800, 400), (800, 500)))
    problems = check_zones((inside, leaving, outside), 640, 360)
    assert len(problems) == 2
    assert "zone 1 (B) leaves" in problems[0]
    assert "zone 2 (C) lies entirely outside" in problems[1]
