"""3D layout of the mock store (aisles, gondolas, shelves, plates, items) and the pinhole camera.

World frame, metres: x along the aisles (0..aisle_length_m), y across them (gondola A at y < 0, B at
y > 0), z up from the floor. Shelf ``A2`` is level 2 (from the bottom) of gondola A; plate 1 is the
one nearest x = 0. In the store layout aisle k is centred on y = k * aisle pitch, between gondolas
of letters 2k (y < centre) and 2k + 1 (y > centre); aisle 0 is the one-aisle layout's A/B aisle.
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
    # Gondola frame: end panels stand out this far beyond the plates, the back panel this far above the top.
    end_panel_m: float = 0.03
    back_panel_above_top_m: float = 0.3
    # Store layout: gap between back-to-back gondolas, between the outer gondolas and the walls, walls, doors.
    back_gap_m: float = 0.04
    wall_gap_m: float = 0.01
    wall_height_m: float = 3.2
    door_width_m: float = 1.3
    door_height_m: float = 2.2
    # One-aisle layout: floor (for plots and shopper truth) beyond the aisle ends.
    aisle_floor_margin_m: float = 1.6
    # Walking: shoppers keep their body centre this far inside an aisle's gondola fronts when walking.
    walk_margin_m: float = 0.45


@dataclass(frozen=True)
class Panel:
    """A vertical rectangle: the plane ``x = at`` (axis 0, spanning y in u, z in v) or ``y = at`` (axis 1,
    spanning x in u, z in v), metres."""

    axis: int
    at: float
    u0: float
    u1: float
    v0: float
    v1: float

    def quad(self) -> np.ndarray:
        """(4, 3) corners in world metres."""
        if self.axis == 0:
            return np.array([[self.at, self.u0, self.v0], [self.at, self.u1, self.v0], [self.at, self.u1, self.v1],
                             [self.at, self.u0, self.v1]], dtype=float)
        return np.array([[self.u0, self.at, self.v0], [self.u1, self.at, self.v0], [self.u1, self.at, self.v1],
                         [self.u0, self.at, self.v1]], dtype=float)


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
    """Geometry of one store: aisles, shelf heights, plate extents, shelf-front planes, walls and routes."""

    def __init__(self, store: StoreSpec, config: LayoutConfig | None = None):
        self.store = store
        self.config = config or LayoutConfig()
        self.half_aisle_m = store.aisle_width_m / 2
        self.plate_width_m = store.aisle_length_m / store.plates_per_shelf
        self.top_z_m = self.config.first_board_z_m + store.levels * self.config.level_spacing_m + 0.05
        self.aisle_pitch_m = store.aisle_width_m + 2 * self.config.gondola_depth_m + self.config.back_gap_m
        self.is_store = store.layout == "store"

    # ------------------------------------------------------------ gondolas and shelves

    @staticmethod
    def gondola_index(shelf_or_gondola: str) -> int:
        """0 for A, 1 for B, 2 for C, ..."""
        return ord(shelf_or_gondola[0]) - ord("A")

    def aisle_of(self, shelf_or_gondola: str) -> int:
        """The aisle a gondola (or shelf) faces: A and B face aisle 0, C and D aisle 1, ..."""
        return self.gondola_index(shelf_or_gondola) // 2

    def aisle_centre_y_m(self, aisle: int) -> float:
        return aisle * self.aisle_pitch_m

    def gondola_sign(self, shelf_or_gondola: str) -> float:
        """-1 for gondolas A, C, E (y < their aisle's centre), +1 for B, D, F: the direction from the
        aisle into the shelf."""
        return -1.0 if self.gondola_index(shelf_or_gondola) % 2 == 0 else 1.0

    def front_y_m(self, shelf: str) -> float:
        return self.aisle_centre_y_m(self.aisle_of(shelf)) + self.gondola_sign(shelf) * self.half_aisle_m

    def back_y_m(self, shelf_or_gondola: str) -> float:
        return self.front_y_m(shelf_or_gondola) + self.gondola_sign(shelf_or_gondola) * self.config.gondola_depth_m

    def gondola_footprint_m(self, gondola: str) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) floor rectangle a gondola stands on, end panels included."""
        front, back = self.front_y_m(gondola), self.back_y_m(gondola)
        end = self.config.end_panel_m
        return -end, min(front, back), self.store.aisle_length_m + end, max(front, back)

    def shelf_box_m(self, shelf: str) -> np.ndarray:
        """(8, 3) corners of a shelf's volume: all its plates' volumes (``plate_box_m``) together."""
        first, last = self.plate_box_m(shelf, 1), self.plate_box_m(shelf, self.store.plates_per_shelf)
        lo, hi = np.minimum(first.min(axis=0), last.min(axis=0)), np.maximum(first.max(axis=0), last.max(axis=0))
        return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])

    # ------------------------------------------------------------ floor, walls, doors

    def floor_m(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x0, y0), (x1, y1)): the store's floor rectangle (inside the walls; for one aisle, the aisle
        between its gondolas' backs and ``aisle_floor_margin_m`` beyond its ends)."""
        L, cfg = self.store.aisle_length_m, self.config
        if not self.is_store:
            outer = self.half_aisle_m + cfg.gondola_depth_m
            return (-cfg.aisle_floor_margin_m, -outer), (L + cfg.aisle_floor_margin_m, outer)
        last = self.store.gondolas[-1]
        return ((-self.store.corridor_m, self.back_y_m("A") - cfg.wall_gap_m),
                (L + self.store.corridor_m, self.back_y_m(last) + cfg.wall_gap_m))

    def entrance_xy(self) -> tuple[float, float]:
        """Centre of the entrance door: in the wall at x < 0, level with aisle 0 (store layout)."""
        return self.floor_m()[0][0], self.aisle_centre_y_m(0)

    def exit_xy(self) -> tuple[float, float]:
        """Centre of the exit door: in the wall at x > aisle_length_m, level with the last aisle."""
        return self.floor_m()[1][0], self.aisle_centre_y_m(self.store.aisles - 1)

    def walls(self) -> list[Panel]:
        """The store's outer walls (store layout), split around the door openings (which have a lintel)."""
        cfg = self.config
        (x0, y0), (x1, y1) = self.floor_m()
        h, dh, half_door = cfg.wall_height_m, cfg.door_height_m, cfg.door_width_m / 2
        panels = [Panel(1, y0, x0, x1, 0.0, h), Panel(1, y1, x0, x1, 0.0, h)]
        for x, (_, door_y) in ((x0, self.entrance_xy()), (x1, self.exit_xy())):
            panels += [Panel(0, x, y0, door_y - half_door, 0.0, h), Panel(0, x, door_y + half_door, y1, 0.0, h),
                       Panel(0, x, door_y - half_door, door_y + half_door, dh, h)]
        return panels

    def gondola_panels(self, gondola: str) -> list[Panel]:
        """The opaque frame of a gondola: its back panel and its two end panels."""
        cfg, L = self.config, self.store.aisle_length_m
        front, back = self.front_y_m(gondola), self.back_y_m(gondola)
        lo, hi = min(front, back), max(front, back)
        return [Panel(1, back, -cfg.end_panel_m, L + cfg.end_panel_m, 0.0, self.top_z_m + cfg.back_panel_above_top_m),
                Panel(0, -cfg.end_panel_m, lo, hi, 0.0, self.top_z_m),
                Panel(0, L + cfg.end_panel_m, lo, hi, 0.0, self.top_z_m)]

    def occluders(self) -> list[Panel]:
        """Everything opaque that can hide a shopper (store layout): gondola frames and the walls. The
        one-aisle layout has none (nothing stands between its cameras and its shoppers)."""
        if not self.is_store:
            return []
        return [p for g in self.store.gondolas for p in self.gondola_panels(g)] + self.walls()

    # ------------------------------------------------------------ walking routes (store layout)

    def aisle_at(self, xy: tuple[float, float]) -> int | None:
        """The aisle whose walkway (between its gondola fronts, along the gondolas) contains ``xy``."""
        if not 0.0 <= xy[0] <= self.store.aisle_length_m:
            return None
        k = round(xy[1] / self.aisle_pitch_m)
        if 0 <= k < self.store.aisles and abs(xy[1] - self.aisle_centre_y_m(k)) < self.half_aisle_m:
            return k
        return None

    def corridor_x_m(self, side: int) -> float:
        """x of the walking line of the cross corridor at x < 0 (side -1) or x > aisle_length_m (+1)."""
        L, c = self.store.aisle_length_m, self.store.corridor_m
        return -c / 2 if side < 0 else L + c / 2

    def route_m(self, start: tuple[float, float], end: tuple[float, float],
                lane_m: float = 0.0) -> list[tuple[float, float]]:
        """Waypoints (``end`` last, ``start`` not included) of a walk that goes around gondolas, never
        through them: within one aisle straight; between aisles out of the aisle's end along its centre
        line (+ ``lane_m``), along a cross corridor, and into the other aisle; from outside a door
        (x beyond a wall) first straight through it into the corridor. One-aisle layout: straight."""
        if not self.is_store:
            return [end]
        (x0, _), (x1, _) = self.floor_m()
        head: list[tuple[float, float]] = []
        tail: list[tuple[float, float]] = []
        if start[0] < x0 or start[0] > x1:  # outside a door: walk in through it first
            start = (self.corridor_x_m(-1 if start[0] < x0 else 1), start[1])
            head.append(start)
        if end[0] < x0 or end[0] > x1:  # leaving through a door: reach the corridor in front of it first
            tail.append(end)
            end = (self.corridor_x_m(-1 if end[0] < x0 else 1), end[1])
        a, b = self.aisle_at(start), self.aisle_at(end)
        if a is not None and a == b:
            middle = [end]
        else:
            middle = min((self._via_corridor(start, end, a, b, side, lane_m) for side in (-1, 1)),
                         key=lambda path: path_length_m([start, *path]))
        route = [*head, *middle, *tail]
        return [p for i, p in enumerate(route) if i == 0 or p != route[i - 1]]

    def _via_corridor(self, start, end, a: int | None, b: int | None, side: int,
                      lane_m: float) -> list[tuple[float, float]]:
        xc = self.corridor_x_m(side)
        path: list[tuple[float, float]] = []
        if a is not None:
            path.append((xc, self.aisle_centre_y_m(a) + lane_m))
        elif (start[0] < 0) != (side < 0):  # in the other corridor: cross through the nearest aisle
            k = min(range(self.store.aisles), key=lambda k: abs(self.aisle_centre_y_m(k) - start[1]))
            y = self.aisle_centre_y_m(k) + lane_m
            path += [(start[0], y), (xc, y)]
        if b is not None:
            path.append((xc, self.aisle_centre_y_m(b) + lane_m))
        elif (end[0] < 0) != (side < 0):
            k = min(range(self.store.aisles), key=lambda k: abs(self.aisle_centre_y_m(k) - end[1]))
            y = self.aisle_centre_y_m(k) + lane_m
            path += [(xc, y), (end[0], y)]
        path.append(end)
        return path

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


def path_length_m(points: list[tuple[float, float]]) -> float:
    """Length in metres of the polyline through ``points`` (floor xy)."""
    return sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:], strict=False))


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


@dataclass(frozen=True)
class StoreCameraConfig:
    """Where the store layout's ceiling cameras hang (metres, degrees).

    Aisle cameras hang ``aisle_inset_m`` inside one gondola front (0: right above it) at ``height_m``
    and look across the aisle at the opposite gondola (like the one-aisle cameras): a hand in a shelf
    faces one of them, and the two cameras of an aisle both see the middle of its walkway.
    Corridor cameras hang over a cross corridor ``corridor_wall_m`` from the side wall and look along
    it towards the door (entrance or exit), so they see shoppers come in or go out and turn into or
    out of the aisles' ends. Extra cameras (beyond two per aisle and two corridors) are aisle cameras
    shifted ``extra_shift_share`` of the aisle length along it.
    """

    height_m: float = 3.1
    aisle_inset_m: float = 0.0
    aisle_target_beyond_m: float = 0.1
    aisle_target_z_m: float = 0.55
    aisle_hfov_deg: float = 84.0
    corridor_wall_m: float = 0.35
    corridor_target_z_m: float = 0.7
    corridor_target_past_door_m: float = 0.4
    corridor_hfov_deg: float = 84.0
    extra_shift_share: float = 0.25


def store_camera_specs(store: StoreSpec, n_cameras: int, config: StoreCameraConfig | None = None) -> list[CameraSpec]:
    """Ceiling cameras of the store layout, in priority order: for each aisle one looking at its
    y > centre gondola (B, D, ...) and one at its y < centre gondola (A, C, ...); then one over the
    entrance corridor and one over the exit corridor; then aisle cameras shifted along the aisles."""
    config = config or StoreCameraConfig()
    layout = Layout(store)
    L, half, h = store.aisle_length_m, layout.half_aisle_m, config.height_m
    (x0, y0), (x1, y1) = layout.floor_m()

    def aisle_cam(aisle: int, sign: float, shift: float) -> tuple:
        centre = layout.aisle_centre_y_m(aisle)
        return ((L / 2 + shift, centre - sign * (half - config.aisle_inset_m), h),
                (L / 2 + shift * 0.5, centre + sign * (half + config.aisle_target_beyond_m), config.aisle_target_z_m),
                config.aisle_hfov_deg)

    poses = [aisle_cam(k, sign, 0.0) for k in range(store.aisles) for sign in (1.0, -1.0)]
    for side, (_, door_y) in ((-1, layout.entrance_xy()), (1, layout.exit_xy())):
        xc = layout.corridor_x_m(side)
        far_y = y1 - config.corridor_wall_m if door_y < (y0 + y1) / 2 else y0 + config.corridor_wall_m
        toward = math.copysign(1.0, door_y - far_y)
        poses.append(((xc, far_y, h), (xc, door_y + toward * config.corridor_target_past_door_m,
                                       config.corridor_target_z_m), config.corridor_hfov_deg))
    shift = config.extra_shift_share * L
    k = 0
    while len(poses) < n_cameras:
        aisle, sign = (k // 2) % store.aisles, (1.0, -1.0)[k % 2]
        poses.append(aisle_cam(aisle, sign, shift * (1 if (k // (2 * store.aisles)) % 2 else -1)))
        k += 1
    return [CameraSpec(f"cam{i}", pos, tgt, hfov) for i, (pos, tgt, hfov) in enumerate(poses[:n_cameras])]


def make_cameras(scenario: Scenario, rng: np.random.Generator) -> list[Camera]:
    """Cameras of the scenario with per-scene pose jitter (scaled by knobs.scene_variation)."""
    if scenario.cameras:
        specs = list(scenario.cameras)
    elif scenario.store.layout == "store":
        specs = store_camera_specs(scenario.store, scenario.n_cameras)
    else:
        specs = default_camera_specs(scenario.store, scenario.n_cameras)
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


def shaded_bgr(color, factor: float) -> tuple[int, int, int]:
    """A BGR colour scaled by ``factor`` (clipped to 0..255)."""
    return tuple(int(min(255, max(0, c * factor))) for c in color)


LIGHT_DIR = np.array([0.25, 0.15, 0.95]) / np.linalg.norm([0.25, 0.15, 0.95])


def _product_parts(product: Product) -> list[tuple[float, float, float, float, tuple, tuple | None, int]]:
    """Prism parts: (scale_r, scale_f, z0 share, z1 share, colour, band (z0, z1) shares or None, sides)."""
    c, cap = product.color_bgr, product.cap_bgr
    if product.shape == "box":
        return [(1, 1, 0, 1, c, (0.42, 0.68), 4)]
    if product.shape == "bag":
        return [(1, 1, 0, 0.86, c, (0.38, 0.64), 4), (0.97, 0.35, 0.86, 1.0, shaded_bgr(c, 0.7), None, 4)]
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
                 detail: bool = True, paint: bool = True) -> None:
    """Draw a product (box, can, bottle or bag) standing at ``base_m`` with its label facing ``front_xy``.

    Side faces are Lambert-shaded, the label band and print stripes sit on the front. With ``ids``,
    the product's silhouette is also filled with ``obj_id`` there (for visibility counts);
    ``paint=False`` fills only that silhouette (``img`` untouched).
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
        n = len(ring) if paint else 0
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
                faces.append((depth, quad, shaded_bgr(col, shade)))
        if paint:
            tops.append((z1, top, shaded_bgr(color, 1.12)))
    faces.sort(key=lambda t: -t[0])
    for _, quad, col in faces:
        fill_polygon(img, cam, quad, col)
    for _, top, col in sorted(tops, key=lambda t: t[0]):
        fill_polygon(img, cam, top, col)
    if detail and paint:
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
                dark = shaded_bgr(product.band_bgr, 0.35)
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
