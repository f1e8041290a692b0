"""3D layout of the mock store (aisle, gondolas, shelves, plates, items) and the pinhole camera.

World frame, metres: x along the aisle (0..aisle_length_m), y across it (gondola A at y < 0, B at
y > 0), z up from the floor. Shelf ``A2`` is level 2 (from the bottom) of gondola A; plate 1 is the
one nearest x = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from mockstore.catalog import Product
from mockstore.scenario import CameraSpec, Scenario, StoreSpec

NEAR_M = 0.05


@dataclass(frozen=True)
class LayoutConfig:
    """Fixed dimensions of the store furniture (metres)."""

    gondola_depth_m: float = 0.5
    first_board_z_m: float = 0.14
    level_spacing_m: float = 0.45
    board_thickness_m: float = 0.035
    item_gap_m: float = 0.012
    front_margin_m: float = 0.03
    empty_slot_share: float = 0.15
    span_share: float = 0.25


@dataclass(frozen=True)
class Item:
    """One physical item on a shelf or in a hand: its true weight (grams) and where it stands."""

    id: int
    sku: str
    weight_g: float
    shelf: str = ""
    x_m: float = 0.0
    forward_m: float = 0.0


class Layout:
    """Geometry of one store: shelf heights, plate extents and shelf-front planes."""

    def __init__(self, store: StoreSpec, config: LayoutConfig | None = None):
        self.store = store
        self.config = config or LayoutConfig()
        self.half_aisle_m = store.aisle_width_m / 2
        self.plate_width_m = store.aisle_length_m / store.plates_per_shelf
        self.top_z_m = self.config.first_board_z_m + store.levels * self.config.level_spacing_m + 0.05

    def gondola_sign(self, shelf_or_gondola: str) -> float:
        """-1 for gondola A (y < 0), +1 for B: the direction from the aisle into the shelf."""
        return -1.0 if shelf_or_gondola[0] == "A" else 1.0

    def front_y_m(self, shelf: str) -> float:
        return self.gondola_sign(shelf) * self.half_aisle_m

    def board_z_m(self, shelf: str) -> float:
        """Top surface height of the shelf's board."""
        level = int(shelf[1:])
        return self.config.first_board_z_m + (level - 1) * self.config.level_spacing_m

    def plate_x_m(self, plate: int) -> tuple[float, float]:
        return (plate - 1) * self.plate_width_m, plate * self.plate_width_m

    def item_y_m(self, shelf: str, product: Product, forward_m: float = 0.0) -> float:
        inward = self.config.front_margin_m + product.depth_m / 2 - forward_m
        return self.front_y_m(shelf) + self.gondola_sign(shelf) * inward

    def plate_shares(self, x_m: float, width_m: float) -> dict[int, float]:
        """Share of an item's weight on each plate: its footprint overlap with each plate."""
        lo, hi = x_m - width_m / 2, x_m + width_m / 2
        shares = {}
        for plate in range(1, self.store.plates_per_shelf + 1):
            p0, p1 = self.plate_x_m(plate)
            overlap = min(hi, p1) - max(lo, p0)
            if overlap > 1e-9:
                shares[plate] = overlap / width_m
        if not shares:
            nearest = min(max(int(x_m // self.plate_width_m) + 1, 1), self.store.plates_per_shelf)
            shares[nearest] = 1.0
        total = sum(shares.values())
        return {p: s / total for p, s in shares.items()}

    def plate_box_m(self, shelf: str, plate: int) -> np.ndarray:
        """(8, 3) corners of a plate's volume: the space above the plate up to the next board."""
        x0, x1 = self.plate_x_m(plate)
        y0 = self.front_y_m(shelf)
        y1 = y0 + self.gondola_sign(shelf) * (self.config.gondola_depth_m - 0.05)
        z0 = self.board_z_m(shelf)
        z1 = z0 + self.config.level_spacing_m - self.config.board_thickness_m - 0.02
        return np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)], dtype=float)


def generate_planogram(scenario: Scenario, layout: Layout, rng: np.random.Generator) -> tuple[tuple[str, int, str], ...]:
    """Random planogram: each run of 1-2 plates holds one product (wide products like to span two)."""
    products = list(scenario.products)
    order = [int(i) for i in rng.permutation(len(products))]
    rows = []
    cursor = 0
    for shelf in scenario.store.shelves():
        plate = 1
        while plate <= scenario.store.plates_per_shelf:
            product = products[order[cursor % len(order)]]
            cursor += 1
            wide = product.width_m >= 0.18
            can_span = plate < scenario.store.plates_per_shelf
            span = 2 if can_span and rng.random() < (layout.config.span_share * (2 if wide else 0.5)) else 1
            for p in range(plate, plate + span):
                rows.append((shelf, p, product.sku))
            plate += span
    return tuple(rows)


def plate_runs(planogram: tuple[tuple[str, int, str], ...]) -> list[tuple[str, list[int], str]]:
    """Group consecutive plates of one shelf holding the same sku: [(shelf, plates, sku)]."""
    runs: list[tuple[str, list[int], str]] = []
    for shelf, plate, sku in sorted(planogram, key=lambda r: (r[0], r[1])):
        if runs and runs[-1][0] == shelf and runs[-1][2] == sku and runs[-1][1][-1] == plate - 1:
            runs[-1][1].append(plate)
        else:
            runs.append((shelf, [plate], sku))
    return runs


def initial_items(scenario: Scenario, layout: Layout, planogram: tuple[tuple[str, int, str], ...],
                  true_mean_g: dict[str, float], rng: np.random.Generator) -> list[Item]:
    """Fill each plate run with a row of items (some slots left empty), each with its own true weight."""
    items: list[Item] = []
    for shelf, plates, sku in plate_runs(planogram):
        product = scenario.product(sku)
        x0 = layout.plate_x_m(plates[0])[0]
        x1 = layout.plate_x_m(plates[-1])[1]
        pitch = product.width_m + layout.config.item_gap_m
        n = max(int((x1 - x0 - layout.config.item_gap_m) // pitch), 1)
        start = (x0 + x1) / 2 - (n - 1) * pitch / 2
        keep = rng.random(n) >= layout.config.empty_slot_share
        if keep.sum() < min(n, 2):
            keep[: min(n, 2)] = True
        weights = true_mean_g[sku] + product.weight_std_g * rng.standard_normal(n)
        for k in range(n):
            if keep[k]:
                items.append(Item(len(items) + 1, sku, float(weights[k]), shelf, float(start + k * pitch)))
    return items


@dataclass(frozen=True)
class Camera:
    """Pinhole camera. ``rotation`` rows are the camera's right, down and forward axes in world frame."""

    id: str
    width_px: int
    height_px: int
    focal_px: float
    position_m: np.ndarray = field(repr=False)
    rotation: np.ndarray = field(repr=False)

    @staticmethod
    def look_at(cid: str, position_m, target_m, hfov_deg: float, width_px: int, height_px: int,
                roll_deg: float = 0.0) -> Camera:
        position = np.asarray(position_m, dtype=float)
        forward = np.asarray(target_m, dtype=float) - position
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        if np.linalg.norm(right) < 1e-6:
            right = np.array([1.0, 0.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        roll = math.radians(roll_deg)
        right, down = (math.cos(roll) * right + math.sin(roll) * down,
                       -math.sin(roll) * right + math.cos(roll) * down)
        focal = (width_px / 2) / math.tan(math.radians(hfov_deg) / 2)
        return Camera(cid, width_px, height_px, focal, position, np.stack([right, down, forward]))

    def to_camera(self, points_m: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) camera coordinates (x right, y down, z depth), metres."""
        return (np.asarray(points_m, dtype=float) - self.position_m) @ self.rotation.T

    def project_camera(self, cam_points: np.ndarray) -> np.ndarray:
        """(N, 3) camera coordinates (depth > 0) -> (N, 2) pixels."""
        z = cam_points[:, 2:3]
        return cam_points[:, :2] * (self.focal_px / z) + [self.width_px / 2, self.height_px / 2]

    def project(self, points_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points -> ((N, 2) pixels, (N,) depth in metres); depth <= 0 is behind the camera."""
        cam = self.to_camera(points_m)
        depth = cam[:, 2]
        safe = cam.copy()
        safe[:, 2] = np.maximum(depth, NEAR_M)
        return self.project_camera(safe), depth

    def pixels_per_m(self, depth_m: float) -> float:
        return self.focal_px / max(depth_m, NEAR_M)

    def to_dict(self) -> dict:
        return {"id": self.id, "width_px": self.width_px, "height_px": self.height_px,
                "focal_px": round(self.focal_px, 4), "position_m": [round(float(v), 5) for v in self.position_m],
                "rotation": [[round(float(v), 6) for v in row] for row in self.rotation]}


def default_camera_specs(store: StoreSpec, n_cameras: int) -> list[CameraSpec]:
    """Ceiling cameras over one shelf front, each looking across the aisle at the opposite gondola.

    Camera 0 looks at gondola B (or the only gondola), camera 1 at A, further ones repeat shifted
    along the aisle.
    """
    specs = []
    half = store.aisle_width_m / 2
    mid = store.aisle_length_m / 2
    for i in range(n_cameras):
        watched = store.gondolas[i % len(store.gondolas)] if len(store.gondolas) > 1 else store.gondolas[0]
        if len(store.gondolas) == 2:
            watched = ("B", "A")[i % 2]
        sign = -1.0 if watched == "A" else 1.0
        shift = 0.0 if i < 2 else (0.25 * store.aisle_length_m) * (1 if (i // 2) % 2 else -1)
        position = (mid + shift, -sign * (half - 0.3), 3.1)
        target = (mid + shift * 0.5, sign * (half + 0.1), 0.55)
        specs.append(CameraSpec(f"cam{i}", position, target, 78.0))
    return specs


def make_cameras(scenario: Scenario, rng: np.random.Generator) -> list[Camera]:
    """Cameras of the scenario with per-scene pose jitter (scaled by knobs.scene_variation)."""
    specs = list(scenario.cameras) if scenario.cameras else default_camera_specs(scenario.store, scenario.n_cameras)
    jitter = scenario.knobs.scene_variation
    cams = []
    for spec in specs:
        pos = np.array(spec.position_m) + jitter * rng.uniform(-1, 1, 3) * [0.15, 0.08, 0.15]
        tgt = np.array(spec.look_at_m) + jitter * rng.uniform(-1, 1, 3) * [0.15, 0.1, 0.15]
        hfov = spec.hfov_deg + jitter * rng.uniform(-5, 5)
        roll = spec.roll_deg + jitter * rng.uniform(-2.5, 2.5)
        cams.append(Camera.look_at(spec.id, pos, tgt, hfov, scenario.width_px, scenario.height_px, roll))
    return cams


# ---------------------------------------------------------------- drawing of 3D polygons and products


def clip_near(cam_points: np.ndarray) -> np.ndarray:
    """Clip a convex polygon (N, 3) in camera coordinates to depth >= NEAR_M (Sutherland-Hodgman)."""
    inside = cam_points[:, 2] >= NEAR_M
    if inside.all():
        return cam_points
    if not inside.any():
        return cam_points[:0]
    out = []
    n = len(cam_points)
    for i in range(n):
        a, b = cam_points[i], cam_points[(i + 1) % n]
        ina, inb = a[2] >= NEAR_M, b[2] >= NEAR_M
        if ina:
            out.append(a)
        if ina != inb:
            t = (NEAR_M - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out)


def fill_polygon(img: np.ndarray, cam: Camera, points_m: np.ndarray, color, *, aa: bool = True) -> None:
    """Fill a planar convex polygon given in world metres (clipped at the near plane)."""
    clipped = clip_near(cam.to_camera(points_m))
    if len(clipped) < 3:
        return
    pix = np.round(cam.project_camera(clipped) * 16).astype(np.int32)
    cv2.fillConvexPoly(img, pix, color, cv2.LINE_AA if aa else cv2.LINE_8, shift=4)


def _shade(color, factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * factor))) for c in color)


LIGHT_DIR = np.array([0.25, 0.15, 0.95]) / np.linalg.norm([0.25, 0.15, 0.95])


def _product_parts(product: Product) -> list[tuple[float, float, float, float, tuple, tuple | None, int]]:
    """Prism parts: (scale_r, scale_f, z0 share, z1 share, colour, band (z0, z1) shares or None, sides)."""
    c, cap = product.color_bgr, product.cap_bgr
    if product.shape == "box":
        return [(1, 1, 0, 1, c, (0.42, 0.68), 4)]
    if product.shape == "bag":
        return [(1, 1, 0, 0.86, c, (0.38, 0.64), 4), (0.97, 0.35, 0.86, 1.0, _shade(c, 0.7), None, 4)]
    if product.shape == "can":
        return [(1, 1, 0, 0.95, c, (0.3, 0.68), 10), (0.82, 0.82, 0.95, 1.0, cap, None, 10)]
    return [(1, 1, 0, 0.62, c, (0.22, 0.5), 10), (0.65, 0.65, 0.62, 0.8, c, None, 10),
            (0.34, 0.34, 0.8, 0.92, c, None, 8), (0.38, 0.38, 0.92, 1.0, cap, None, 8)]


def _footprint(sides: int, half_r: float, half_f: float) -> np.ndarray:
    if sides == 4:
        return np.array([[-half_r, -half_f], [half_r, -half_f], [half_r, half_f], [-half_r, half_f]])
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False) + np.pi / sides
    return np.stack([half_r * np.cos(ang), half_f * np.sin(ang)], axis=1)


def product_vertices(product: Product, base_m: np.ndarray, front_xy: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(M, 3) all vertices of a product standing at ``base_m`` (centre of its bottom), for boxes."""
    f = np.array([front_xy[0], front_xy[1], 0.0])
    r = np.array([f[1], -f[0], 0.0])
    w, d, h = product.width_m * scale, product.depth_m * scale, product.height_m * scale
    fp = _footprint(4, w / 2, d / 2)
    pts = []
    for z in (0.0, h):
        pts.append(base_m + fp[:, :1] * r + fp[:, 1:] * f + [0, 0, z])
    return np.concatenate(pts)


def draw_product(img: np.ndarray, cam: Camera, product: Product, base_m: np.ndarray, front_xy: np.ndarray,
                 *, scale: float = 1.0, ids: np.ndarray | None = None, obj_id: int = 0,
                 detail: bool = True) -> None:
    """Draw a product (box, can, bottle or bag) standing at ``base_m`` with its label facing ``front_xy``.

    Side faces are Lambert-shaded, the label band and print stripes sit on the front. With ``ids``,
    the product's silhouette is also filled with ``obj_id`` there (for visibility counts).
    """
    f = np.array([front_xy[0], front_xy[1], 0.0])
    r = np.array([f[1], -f[0], 0.0])
    w, d, h = product.width_m * scale, product.depth_m * scale, product.height_m * scale
    cam_pos = cam.position_m
    faces: list[tuple[float, np.ndarray, tuple]] = []
    tops: list[tuple[float, np.ndarray, tuple]] = []
    all_pts = []
    for sr, sf, z0s, z1s, color, band, sides in _product_parts(product):
        fp = _footprint(sides, w / 2 * sr, d / 2 * sf)
        ring = base_m + fp[:, :1] * r + fp[:, 1:] * f
        z0, z1 = z0s * h, z1s * h
        bottom, top = ring + [0, 0, z0], ring + [0, 0, z1]
        all_pts += [bottom, top]
        n = len(ring)
        for i in range(n):
            j = (i + 1) % n
            mid = (ring[i] + ring[j]) / 2
            normal = mid - base_m
            normal[2] = 0
            edge = ring[j] - ring[i]
            normal = np.array([edge[1], -edge[0], 0.0]) if sides == 4 else normal
            if sides == 4 and np.dot(normal, mid - base_m) < 0:
                normal = -normal
            normal /= np.linalg.norm(normal) + 1e-12
            centre = mid + [0, 0, (z0 + z1) / 2]
            if np.dot(normal, cam_pos - centre) <= 0:
                continue
            shade = 0.55 + 0.5 * max(0.0, float(np.dot(normal, LIGHT_DIR)))
            depth = float(np.linalg.norm(cam_pos - centre))
            cuts = [z0, z1] if band is None else [z0, band[0] * h, band[1] * h, z1]
            for k in range(len(cuts) - 1):
                col = product.band_bgr if (band is not None and k == 1) else color
                quad = np.array([ring[i] + [0, 0, cuts[k]], ring[j] + [0, 0, cuts[k]],
                                 ring[j] + [0, 0, cuts[k + 1]], ring[i] + [0, 0, cuts[k + 1]]])
                faces.append((depth, quad, _shade(col, shade)))
        tops.append((z1, top, _shade(color, 1.12)))
    faces.sort(key=lambda t: -t[0])
    for _, quad, col in faces:
        fill_polygon(img, cam, quad, col)
    for _, top, col in sorted(tops, key=lambda t: t[0]):
        fill_polygon(img, cam, top, col)
    if detail:
        parts = _product_parts(product)
        band = parts[0][5]
        if band is not None and product.stripes:
            z_lo, z_hi = band[0] * h, band[1] * h
            front = base_m + f * (d / 2 * 1.02)
            pts = []
            for s in range(product.stripes):
                z = z_lo + (z_hi - z_lo) * (s + 1) / (product.stripes + 1)
                pts += [front - r * w * 0.3 + [0, 0, z], front + r * w * 0.3 + [0, 0, z]]
            pix, depth = cam.project(np.array(pts))
            if (depth > NEAR_M).all() and np.dot(f, cam_pos - front) > 0:
                thick = max(1, round(cam.pixels_per_m(float(depth.mean())) * 0.012))
                dark = _shade(product.band_bgr, 0.35)
                for s in range(product.stripes):
                    a, b = pix[2 * s], pix[2 * s + 1]
                    cv2.line(img, (round(a[0]), round(a[1])), (round(b[0]), round(b[1])), dark, thick, cv2.LINE_AA)
    if ids is not None:
        pix, depth = cam.project(np.concatenate(all_pts))
        if (depth > NEAR_M).all():
            hull = cv2.convexHull(np.round(pix).astype(np.int32))
            cv2.fillConvexPoly(ids, hull, int(obj_id))


def product_bbox(cam: Camera, product: Product, base_m: np.ndarray, front_xy: np.ndarray,
                 scale: float = 1.0) -> tuple[float, float, float, float] | None:
    """Unclipped pixel box (x1, y1, x2, y2) of a product, or None when behind the camera."""
    pix, depth = cam.project(product_vertices(product, base_m, front_xy, scale))
    if (depth <= NEAR_M).any():
        return None
    return float(pix[:, 0].min()), float(pix[:, 1].min()), float(pix[:, 0].max()), float(pix[:, 1].max())
