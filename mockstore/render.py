"""Render frames of one camera and their exact truth boxes.

The static store (floor, walls, gondolas, shelf boards, items on shelves) is drawn once per shelf
state (it changes only at picks and returns) and cached; each frame copies it and draws the moving
shoppers, their hands and held items, depth-sorted, then applies the camera effects (lighting
change, motion blur, sensor noise, JPEG degradation).

In the store layout (several aisles inside walls) shoppers can be behind a gondola or a wall: each
camera ray-casts once the distance to the nearest opaque panel (gondola backs and ends, walls) per
pixel, and shopper pixels further away than that are given back to the static image (and do not
count as visible in the truth). Shelf items off the image or wholly behind panels are not drawn,
and a camera redraws its static image only when an item it shows (or would show) changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from mockstore.figures import FigureConfig, Primitive, arm_joints, figure_primitives, shopper_pose
from mockstore.scene import (
    NEAR_M,
    Camera,
    Item,
    Panel,
    clip_near,
    draw_product,
    fill_polygon,
    product_bbox,
    product_vertices,
    shaded_bgr,
)
from mockstore.script import Simulation

BOX_COLUMNS = ("frame", "object", "track_id", "sku", "x1", "y1", "x2", "y2", "visible")


@dataclass(frozen=True)
class OcclusionConfig:
    """Store-layout occlusion by gondolas and walls (metres, pixels, shares).

    depth_tolerance_m: a point counts as seen when no panel is nearer than its distance minus this.
    shelf_grid: samples per axis (x, y, z) of a shelf's volume when testing whether a camera sees it.
    shelf_front_m / item_above_m: the tested volume reaches this far in front of the shelf (returned
        items stand up to 0.15 m in front) and this far above the plate volume.
    min_item_visible: product_on_shelf boxes less visible than this (behind panels) are not truth.
    rim_px: hidden shopper pixels are given back to the static image with this many pixels around
        them (the anti-aliased outlines reach 2 px beyond a primitive's footprint).
    offscreen_margin_px: products whose box is further than this off the image are not drawn.
    """

    depth_tolerance_m: float = 0.05
    shelf_grid: tuple[int, int, int] = (12, 3, 4)
    shelf_front_m: float = 0.2
    item_above_m: float = 0.05
    min_item_visible: float = 0.02
    rim_px: int = 2
    offscreen_margin_px: float = 8.0


@dataclass(frozen=True)
class Box:
    """One truth box in pixels (clipped to the image); ``visible`` is the unoccluded share of the part
    inside the image in [0, 1]; ``in_frame`` the share of the whole box (unclipped) inside the image."""

    object: str
    track_id: int
    sku: str
    x1: float
    y1: float
    x2: float
    y2: float
    visible: float
    in_frame: float = 1.0


@dataclass(frozen=True)
class Palette:
    """Per-scene colours (BGR) of the store surfaces and the lighting change of the clip."""

    floor_bgr: tuple[int, int, int]
    tile_bgr: tuple[int, int, int]
    wall_bgr: tuple[int, int, int]
    gondola_bgr: tuple[int, int, int]
    board_bgr: tuple[int, int, int]
    strip_bgr: tuple[int, int, int]
    light_change_t_s: float
    light_change: float
    outside_bgr: tuple[int, int, int] = (235, 228, 215)


def make_palette(sim: Simulation, rng: np.random.Generator) -> Palette:
    """Random store colours around a neutral look (the spread scales with knobs.scene_variation)."""
    v = sim.scenario.knobs.scene_variation

    def jitter(base, spread):
        return tuple(int(np.clip(c + v * rng.uniform(-spread, spread), 0, 255)) for c in base)

    floor = jitter((170, 175, 180), 60)
    grey = float(rng.uniform(0.75, 0.9))
    tile = tuple(int(c * grey) for c in floor)
    gondola_choices = ((205, 205, 200), (70, 70, 75), (150, 160, 165), (60, 100, 140), (200, 190, 170))
    gondola = gondola_choices[int(rng.integers(len(gondola_choices)))] if v > 0 else gondola_choices[0]
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return Palette(floor, tile, jitter((210, 215, 215), 50), jitter(gondola, 25), jitter((225, 225, 220), 25),
                   (245, 245, 245), float(rng.uniform(0.2, 0.8) * sim.scenario.duration_s),
                   sign * sim.scenario.knobs.lighting_change)


def _quad(x0, x1, y0, y1, z0, z1, axis: str) -> np.ndarray:
    if axis == "x":  # constant x
        return np.array([[x0, y0, z0], [x0, y1, z0], [x0, y1, z1], [x0, y0, z1]], dtype=float)
    if axis == "y":  # constant y
        return np.array([[x0, y0, z0], [x1, y0, z0], [x1, y0, z1], [x0, y0, z1]], dtype=float)
    return np.array([[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0]], dtype=float)


def draw_store(sim: Simulation, cam: Camera, palette: Palette, items: tuple[Item, ...]) -> np.ndarray:
    """The static store with ``items`` on the shelves, as a BGR image."""
    if sim.layout.is_store:
        img = _draw_store_layout(sim, cam, palette, items)
    else:
        img = _draw_aisle_layout(sim, cam, palette, items)
    # Ceiling lights make the middle of the view brighter than the edges.
    yy, xx = np.mgrid[0:cam.height_px, 0:cam.width_px].astype(np.float32)
    rr = ((xx - cam.width_px / 2) / cam.width_px) ** 2 + ((yy - cam.height_px * 0.45) / cam.height_px) ** 2
    gain = (1.08 - 0.45 * rr)[..., None]
    return np.clip(img.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def _draw_floor(img: np.ndarray, cam: Camera, palette: Palette, x0: float, x1: float, y0: float, y1: float) -> None:
    """Floor and its tile lines over x0..x1, y0..y1 (tiles every 0.6 m from x0, y0)."""
    fill_polygon(img, cam, _quad(x0, x1, y0, y1, 0, 0, "z"), palette.floor_bgr)
    tile = 0.6
    lines = [np.array([[x, y0, 0], [x, y1, 0]]) for x in np.arange(x0, x1 + 1e-9, tile)]
    lines += [np.array([[x0, y, 0], [x1, y, 0]]) for y in np.arange(y0, y1 + 1e-9, tile)]
    for seg in lines:
        c = clip_near(cam.to_camera(seg))
        if len(c) == 2:
            p = np.round(cam.project_camera(c) * 16).astype(np.int32)
            cv2.line(img, tuple(p[0]), tuple(p[1]), palette.tile_bgr, 1, cv2.LINE_AA, shift=4)


def _draw_aisle_layout(sim: Simulation, cam: Camera, palette: Palette, items: tuple[Item, ...]) -> np.ndarray:
    """One open aisle: floor, a wall behind each gondola, the gondolas."""
    lay, store = sim.layout, sim.scenario.store
    cfg = lay.config
    img = np.empty((cam.height_px, cam.width_px, 3), np.uint8)
    img[:] = palette.wall_bgr
    L = store.aisle_length_m
    far = 6.0
    _draw_floor(img, cam, palette, -far, L + far, -far, far)
    gondolas = sorted(store.gondolas, key=lambda g: -abs(cam.position_m[1] - lay.gondola_sign(g) * lay.half_aisle_m))
    by_shelf = _items_by_shelf(items)
    for g in gondolas:
        sign = lay.gondola_sign(g)
        wall_y = sign * (lay.half_aisle_m + cfg.gondola_depth_m + 0.01)
        fill_polygon(img, cam, _quad(-far, L + far, wall_y, wall_y, 0, 3.2, "y"), palette.wall_bgr)
        _draw_gondola(img, sim, cam, palette, g, by_shelf)
    return img


def _draw_store_layout(sim: Simulation, cam: Camera, palette: Palette, items: tuple[Item, ...]) -> np.ndarray:
    """Several aisles inside walls: floor (also outside, seen through the doors), the outer walls with
    their door openings, then the gondolas far to near."""
    lay = sim.layout
    img = np.empty((cam.height_px, cam.width_px, 3), np.uint8)
    img[:] = palette.wall_bgr
    (x0, y0), (x1, y1) = lay.floor_m()
    far = 6.0
    _draw_floor(img, cam, palette, x0 - far, x1 + far, y0 - far, y1 + far)
    half_door, door_h = lay.config.door_width_m / 2, lay.config.door_height_m
    for x, (_, door_y) in ((x0, lay.entrance_xy()), (x1, lay.exit_xy())):
        # Daylight through the doorway, just outside the wall.
        out = x + (-0.02 if x == x0 else 0.02)
        fill_polygon(img, cam, _quad(out, out, door_y - half_door, door_y + half_door, 0, door_h, "x"),
                     palette.outside_bgr)
    for panel in lay.walls():
        fill_polygon(img, cam, panel.quad(), palette.wall_bgr if panel.axis == 1 else shaded_bgr(palette.wall_bgr, 0.9))
    by_shelf = _items_by_shelf(items)
    cy = float(cam.position_m[1])

    def slab_distance(g: str) -> float:
        _, g0, _, g1 = lay.gondola_footprint_m(g)
        return max(g0 - cy, cy - g1, 0.0)

    for g in sorted(lay.store.gondolas, key=lambda g: -slab_distance(g)):
        _draw_gondola(img, sim, cam, palette, g, by_shelf)
    return img


def _items_by_shelf(items: tuple[Item, ...]) -> dict[str, list[Item]]:
    by_shelf: dict[str, list[Item]] = {}
    for it in items:
        by_shelf.setdefault(it.shelf, []).append(it)
    return by_shelf


def _draw_gondola(img: np.ndarray, sim: Simulation, cam: Camera, palette: Palette, g: str,
                  by_shelf: dict[str, list[Item]]) -> None:
    """One gondola: back panel, end panels, kick plate, boards with their front strips and plate
    dividers, items. Panels the camera is on the outer side of (behind the back, beyond an end) are
    drawn last, over the shelves they hide."""
    lay, store = sim.layout, sim.scenario.store
    cfg = lay.config
    L = store.aisle_length_m
    sign = lay.gondola_sign(g)
    centre = lay.aisle_centre_y_m(lay.aisle_of(g))
    front = centre + sign * lay.half_aisle_m
    back = centre + sign * (lay.half_aisle_m + cfg.gondola_depth_m)
    top = lay.top_z_m
    x_lo, x_hi = -cfg.end_panel_m, L + cfg.end_panel_m
    body = palette.gondola_bgr
    cx, cy = float(cam.position_m[0]), float(cam.position_m[1])
    behind = (cy - back) * sign > 0
    outer_ends = [x for x in (x_lo, x_hi) if (cx < x_lo if x == x_lo else cx > x_hi)]

    def back_panel() -> None:
        fill_polygon(img, cam, _quad(x_lo, x_hi, back, back, 0, top + cfg.back_panel_above_top_m, "y"),
                     tuple(int(c * 0.72) for c in body))

    def end_panel(x: float) -> None:
        fill_polygon(img, cam, _quad(x, x, front, back, 0, top, "x"), tuple(int(c * 0.85) for c in body))

    if not behind:
        back_panel()
    for x in (x_lo, x_hi):
        if x not in outer_ends:
            end_panel(x)
    fill_polygon(img, cam, _quad(x_lo, x_hi, front, front, 0, cfg.first_board_z_m - cfg.board_thickness_m,
                                 "y"), tuple(int(c * 0.5) for c in body))
    for level in range(1, store.levels + 1):
        shelf = f"{g}{level}"
        z = lay.board_z_m(shelf)
        fill_polygon(img, cam, _quad(x_lo, x_hi, front, back, z, z, "z"), palette.board_bgr)
        fill_polygon(img, cam, _quad(x_lo, x_hi, front, front, z - cfg.board_thickness_m, z, "y"),
                     palette.strip_bgr)
        for plate in range(1, store.plates_per_shelf + 2):
            x = (plate - 1) * lay.plate_width_m
            seg = np.array([[x, front, z - cfg.board_thickness_m], [x, front, z]])
            p, d = cam.project(seg)
            if (d > 0.1).all():
                cv2.line(img, (round(p[0, 0]), round(p[0, 1])), (round(p[1, 0]), round(p[1, 1])),
                         (90, 90, 90), 1, cv2.LINE_AA)
        shelf_items = sorted(by_shelf.get(shelf, []),
                             key=lambda it: -np.linalg.norm(cam.position_m - _item_base(sim, it)))
        for it in shelf_items:
            draw_product(img, cam, sim.scenario.product(it.sku), _item_base(sim, it), np.array([0.0, -sign]))
    for x in outer_ends:
        end_panel(x)
    if behind:
        back_panel()
    else:
        fill_polygon(img, cam, _quad(x_lo, x_hi, back, back, top + 0.2, top + cfg.back_panel_above_top_m, "y"),
                     palette.strip_bgr)


def occluder_depth(cam: Camera, panels: list[Panel]) -> np.ndarray:
    """(H, W) float32 distance in metres from the camera along each pixel's ray to the nearest of
    ``panels`` (inf where the ray meets none)."""
    h, w = cam.height_px, cam.width_px
    u, v = np.meshgrid(np.arange(w, dtype=float), np.arange(h, dtype=float))
    rays = np.stack([(u - w / 2) / cam.focal_px, (v - h / 2) / cam.focal_px, np.ones_like(u)], axis=-1)
    dirs = rays @ cam.rotation
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    depth = np.full((h, w), np.inf)
    pos = cam.position_m
    for panel in panels:
        a, ui = panel.axis, (1 if panel.axis == 0 else 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (panel.at - pos[a]) / dirs[..., a]
        pu = pos[ui] + t * dirs[..., ui]
        pv = pos[2] + t * dirs[..., 2]
        hit = (t > NEAR_M) & (t < depth) & (pu >= panel.u0) & (pu <= panel.u1) & (pv >= panel.v0) & (pv <= panel.v1)
        depth[hit] = t[hit]
    return depth.astype(np.float32)


def seen_share(cam: Camera, depth_map: np.ndarray, points_m: np.ndarray, tolerance_m: float) -> float:
    """Share of ``points_m`` (N, 3) that the camera sees: in front of it, inside the image and not
    behind an opaque panel of ``depth_map``."""
    pix, _ = cam.project(points_m)
    dist = np.linalg.norm(points_m - cam.position_m, axis=1)
    depth = cam.to_camera(points_m)[:, 2]
    u, v = np.round(pix[:, 0]).astype(int), np.round(pix[:, 1]).astype(int)
    inside = (depth > NEAR_M) & (u >= 0) & (u < cam.width_px) & (v >= 0) & (v < cam.height_px)
    seen = np.zeros(len(points_m), bool)
    seen[inside] = depth_map[v[inside], u[inside]] >= dist[inside] - tolerance_m
    return float(seen.mean()) if len(seen) else 0.0


def box_samples(lo, hi, grid: tuple[int, int, int]) -> np.ndarray:
    """(N, 3) grid points filling the axis-aligned box lo..hi (metres)."""
    axes = [np.linspace(lo[k], hi[k], grid[k]) for k in range(3)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _item_base(sim: Simulation, item: Item) -> np.ndarray:
    product = sim.scenario.product(item.sku)
    return np.array([item.x_m, sim.layout.item_y_m(item.shelf, product, item.forward_m),
                     sim.layout.board_z_m(item.shelf)])


def _in_frame(full, clipped) -> float:
    """Share of the unclipped box ``full`` that ``clipped`` (its part inside the image) keeps."""
    area = (full[2] - full[0]) * (full[3] - full[1])
    return min(1.0, (clipped[2] - clipped[0]) * (clipped[3] - clipped[1]) / area) if area > 0 else 1.0


def _clip_box(box, width: int, height: int):
    x1, y1, x2, y2 = box
    x1, x2 = max(0.0, x1), min(float(width), x2)
    y1, y2 = max(0.0, y1), min(float(height), y2)
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return x1, y1, x2, y2


class CameraRenderer:
    """Renders frames of one camera of a simulation (caching the static store per shelf state).

    ``picture=False`` skips drawing the static store and the held products (frames show the
    shoppers' bodies on black, no camera effects): the truth boxes are the same, only much faster
    (for tests and coverage studies).
    """

    def __init__(self, sim: Simulation, cam: Camera, palette: Palette, figure: FigureConfig | None = None,
                 occlusion: OcclusionConfig | None = None, picture: bool = True):
        self.sim, self.cam, self.palette = sim, cam, palette
        self.picture = picture
        self.figure = figure or FigureConfig()
        self.occlusion = occlusion or OcclusionConfig()
        self._epoch = -2
        self._items: tuple[Item, ...] | None = None
        self._background: np.ndarray | None = None
        self._shelf_boxes: list[tuple[str, tuple[float, float, float, float], float]] = []
        self._scratch = np.zeros((cam.height_px, cam.width_px), np.uint8)
        panels = sim.layout.occluders()
        # Store layout: distance to the nearest gondola frame or wall per pixel.
        self.panel_depth = occluder_depth(cam, panels) if panels else None
        # Store layout: per shelf item, whether the static picture shows it and its truth box.
        self._views: dict[Item, tuple[bool, tuple | None]] = {}

    def shelf_seen_share(self, shelf: str, plate: int | None = None, *, with_margins: bool = True) -> float:
        """Share of a shelf's (or one plate's) volume this camera sees past the gondola frames and
        walls (samples on a grid; in the one-aisle layout, the share inside the image). With
        ``with_margins`` the volume reaches ``shelf_front_m`` in front of the shelf and ``item_above_m``
        above it (where items can stand): whether a change on the shelf can show in the picture."""
        lay, occ = self.sim.layout, self.occlusion
        box = lay.plate_box_m(shelf, plate) if plate is not None else lay.shelf_box_m(shelf)
        lo, hi = box.min(axis=0), box.max(axis=0)
        if with_margins:
            if lay.gondola_sign(shelf) < 0:
                hi[1] += occ.shelf_front_m
            else:
                lo[1] -= occ.shelf_front_m
            hi[2] += occ.item_above_m
        depth = self.panel_depth if self.panel_depth is not None else np.full(
            (self.cam.height_px, self.cam.width_px), np.inf, np.float32)
        return seen_share(self.cam, depth, box_samples(lo, hi, occ.shelf_grid), occ.depth_tolerance_m)

    def _item_seen(self, product, base: np.ndarray, front_xy: np.ndarray,
                   box: tuple[float, float, float, float]) -> float:
        """Share of an item's pixel box (clipped) not behind a gondola frame or wall (store layout)."""
        x1, y1, x2, y2 = int(box[0]), int(box[1]), int(math.ceil(box[2])), int(math.ceil(box[3]))
        nearest = float(np.linalg.norm(product_vertices(product, base, front_xy) - self.cam.position_m, axis=1).min())
        region = self.panel_depth[y1:y2, x1:x2]
        return float((region >= nearest - self.occlusion.depth_tolerance_m).mean()) if region.size else 0.0

    def _static(self, t_s: float) -> np.ndarray:
        epoch, items = self.sim.shelf_items(t_s)
        if epoch == self._epoch:
            return self._background
        if self.panel_depth is not None:
            return self._static_store(epoch, items)
        self._background = draw_store(self.sim, self.cam, self.palette, items) if self.picture \
            else self._blank()
        boxes = []
        for it in items:
            product = self.sim.scenario.product(it.sku)
            sign = self.sim.layout.gondola_sign(it.shelf)
            b = product_bbox(self.cam, product, _item_base(self.sim, it), np.array([0.0, -sign]))
            clipped = _clip_box(b, self.cam.width_px, self.cam.height_px) if b else None
            if clipped:
                boxes.append((it.sku, clipped, 1.0))
        self._shelf_boxes = boxes
        self._epoch, self._items = epoch, items
        return self._background

    def _blank(self) -> np.ndarray:
        return np.zeros((self.cam.height_px, self.cam.width_px, 3), np.uint8)

    def _product_view(self, product, base: np.ndarray, front_xy: np.ndarray) -> tuple[bool, tuple | None, float]:
        """(whether drawing a product standing at ``base`` can change a pixel, its box clipped to the
        image or None, the share of that box not behind gondola frames / walls). Off the image means
        further than ``offscreen_margin_px`` off it (label stripes and anti-aliasing reach beyond
        the box)."""
        box = product_bbox(self.cam, product, base, front_xy)
        if box is None:
            return True, None, 1.0  # partly behind the camera: drawn clipped
        m = self.occlusion.offscreen_margin_px
        if box[2] < -m or box[3] < -m or box[0] > self.cam.width_px + m or box[1] > self.cam.height_px + m:
            return False, None, 0.0
        clipped = _clip_box(box, self.cam.width_px, self.cam.height_px)
        if clipped is None:
            return True, None, 0.0
        share = 1.0 if self.panel_depth is None else self._item_seen(product, base, front_xy, clipped)
        return share > 0, clipped, share

    def _item_view(self, it: Item) -> tuple[bool, tuple | None]:
        """(whether the static picture shows a shelf item, its truth box entry or None)."""
        product = self.sim.scenario.product(it.sku)
        base, front = _item_base(self.sim, it), np.array([0.0, -self.sim.layout.gondola_sign(it.shelf)])
        drawn, clipped, share = self._product_view(product, base, front)
        boxed = drawn and clipped is not None and share >= self.occlusion.min_item_visible
        return drawn, ((it.sku, clipped, share) if boxed else None)

    def _static_store(self, epoch: int, items: tuple[Item, ...]) -> np.ndarray:
        """Store layout: redraw the static picture only when an item it shows (or would show) changed."""
        if self._items is None:
            self._views = {it: self._item_view(it) for it in items}
            redraw = True
        else:
            old, new = set(self._items), set(items)
            redraw = False
            for it in old - new:
                redraw |= self._views.pop(it)[0]
            for it in new - old:
                self._views[it] = self._item_view(it)
                redraw |= self._views[it][0]
        if redraw or self._background is None:
            drawn = tuple(it for it in items if self._views[it][0])
            self._background = draw_store(self.sim, self.cam, self.palette, drawn) if self.picture \
                else self._blank()
        self._shelf_boxes = [self._views[it][1] for it in items if self._views[it][1] is not None]
        self._epoch, self._items = epoch, items
        return self._background

    def render(self, t_s: float, rng: np.random.Generator | None = None,
               effects: bool = True) -> tuple[np.ndarray, list[Box]]:
        """The frame at ``t_s`` (seconds from clip start) and its truth boxes.

        ``rng`` drives the sensor noise (none without it); ``effects=False`` skips lighting, blur,
        noise and JPEG (the clean render).
        """
        cam, sim = self.cam, self.sim
        img = self._static(t_s).copy()
        ids = np.zeros((cam.height_px, cam.width_px), np.uint8)
        objects: list[tuple[str, int, str, list[Primitive]]] = []
        draw: list[tuple[float, int, Primitive, float]] = []
        for track in sim.shoppers:
            pose = shopper_pose(track, sim, t_s, self.figure)
            if pose is None:
                continue
            prims = figure_primitives(pose, track.look, sim, self.figure)
            parts: dict[str, list[Primitive]] = {}
            for p in prims:
                key = p.part if p.part != "item" else f"item{p.item}"
                parts.setdefault(key, []).append(p)
            for key, plist in parts.items():
                kind = {"body": "shopper", "hand_left": "hand", "hand_right": "hand"}.get(key, "product_in_hand")
                objects.append((kind, track.id, plist[0].sku, plist))
        for oid, (_, _, _, plist) in enumerate(objects, start=1):
            for p in plist:
                if p.kind == "product" and self._product_unseen(p):
                    continue  # drawing it would change no pixel: skip the costly product drawing
                centre = (np.array(p.p0) + np.array(p.p1)) / 2
                if p.kind == "product":
                    centre = centre + [0, 0, 0.1]
                depth = float(np.linalg.norm(cam.position_m - centre))
                # Hands are drawn over their own forearm, held items just behind the hand.
                bias = 0.02 if p.kind == "product" else (-0.15 if p.part.startswith("hand") else 0.0)
                draw.append((depth + bias, oid, p, depth))
        draw.sort(key=lambda d: -d[0])
        zbuf = None if self.panel_depth is None else np.zeros((cam.height_px, cam.width_px), np.float32)
        for _, oid, p, depth in draw:
            self._draw(img, ids, p, oid, zbuf, depth)
        if zbuf is not None:
            self._hide_behind_panels(img, ids, zbuf)
        boxes: list[Box] = []
        shopper_boxes: dict[int, list] = {}
        for oid, (kind, track_id, sku, plist) in enumerate(objects, start=1):
            full = self._full_box(plist)
            if full is None:
                continue
            if kind in ("shopper", "hand"):
                shopper_boxes.setdefault(track_id, []).append((full, oid, plist))
            if kind == "shopper":
                continue
            clipped = _clip_box(full, cam.width_px, cam.height_px)
            if clipped is None:
                continue
            visible = self._visible(ids, clipped, [oid], plist)
            if visible > 0:
                boxes.append(Box(kind, track_id, sku, *clipped, visible, _in_frame(full, clipped)))
        for track_id, entries in shopper_boxes.items():
            full = (min(e[0][0] for e in entries), min(e[0][1] for e in entries),
                    max(e[0][2] for e in entries), max(e[0][3] for e in entries))
            clipped = _clip_box(full, cam.width_px, cam.height_px)
            if clipped is None:
                continue
            plist = [p for e in entries for p in e[2]]
            visible = self._visible(ids, clipped, [e[1] for e in entries], plist)
            if visible > 0:
                boxes.insert(0, Box("shopper", track_id, "", *clipped, visible, _in_frame(full, clipped)))
        if self._shelf_boxes:
            covered = cv2.integral((ids > 0).astype(np.uint8))
            for sku, (x1, y1, x2, y2), share in self._shelf_boxes:
                a, b, c, d = int(x1), int(y1), int(math.ceil(x2)), int(math.ceil(y2))
                area = max((c - a) * (d - b), 1)
                hidden = covered[d, c] - covered[b, c] - covered[d, a] + covered[b, a]
                visible = 1.0 - hidden / area
                if share < 1.0:  # partly behind a gondola frame (store layout)
                    visible *= share
                if visible > 0.02:
                    boxes.append(Box("product_on_shelf", 0, sku, x1, y1, x2, y2, visible))
        if effects and self.picture:
            img = self._effects(img, t_s, rng)
        return img, boxes

    def reaches(self, t_s: float) -> dict[int, float]:
        """How far each shopper in the store reaches into a shelf at ``t_s``: track id -> 0 (arms down)
        to 1 (hand at the product), the pose's ``reach``."""
        reach = {}
        for track in self.sim.shoppers:
            pose = shopper_pose(track, self.sim, t_s, self.figure)
            if pose is not None:
                reach[track.id] = float(pose.reach)
        return reach

    def keypoints(self, t_s: float) -> dict[int, np.ndarray]:
        """Arm joints (``figures.ARM_KEYPOINTS``) of every shopper in the store at ``t_s``: track id ->
        (6, 3) pixel x, pixel y, depth in metres (<= 0: behind the camera). Not clipped to the image."""
        joints = {}
        for track in self.sim.shoppers:
            pose = shopper_pose(track, self.sim, t_s, self.figure)
            if pose is None:
                continue
            pix, depth = self.cam.project(arm_joints(pose, track.look, self.figure))
            joints[track.id] = np.column_stack([pix, depth])
        return joints

    def _project_capsule(self, p: Primitive):
        pts = np.array([p.p0, p.p1])
        pix, depth = self.cam.project(pts)
        if (depth <= 0.1).any():
            return None
        radius = p.radius_m * self.cam.focal_px / float(depth.mean())
        return pix, radius

    def _product_unseen(self, p: Primitive) -> bool:
        """A held product off the image or wholly behind gondola frames / walls: drawing it would
        change no pixel."""
        product = self.sim.scenario.product(p.sku)
        return not self._product_view(product, np.array(p.p0), np.array(p.p1[:2]))[0]

    def _hide_behind_panels(self, img: np.ndarray, ids: np.ndarray, zbuf: np.ndarray) -> None:
        """Give shopper pixels further than the nearest gondola frame or wall back to the static image
        (with their anti-aliased rim) and drop them from the visibility ids."""
        hidden = zbuf > self.panel_depth
        if not hidden.any():
            return
        shown = (zbuf > 0) & ~hidden
        size = 2 * self.occlusion.rim_px + 1
        rim = cv2.dilate(hidden.view(np.uint8), np.ones((size, size), np.uint8)).view(bool) & ~shown
        img[rim] = self._background[rim]
        ids[hidden] = 0

    def _draw(self, img: np.ndarray, ids: np.ndarray | None, p: Primitive, oid: int,
              zbuf: np.ndarray | None = None, depth: float = 0.0) -> None:
        """Draw a primitive into ``img`` and its object id into ``ids``; with ``zbuf``, also its
        distance from the camera (metres) over its footprint."""
        if p.kind == "product":
            product = self.sim.scenario.product(p.sku)
            draw_product(img, self.cam, product, np.array(p.p0), np.array(p.p1[:2]), ids=ids, obj_id=oid,
                         detail=True, paint=self.picture)
            if zbuf is not None:
                self._draw_mask(zbuf, p, depth)
            return
        proj = self._project_capsule(p)
        if proj is None:
            return
        pix, radius = proj
        a = tuple(np.round(pix[0] * 16).astype(np.int32))
        b = tuple(np.round(pix[1] * 16).astype(np.int32))
        thick = max(1, round(2 * radius))
        if zbuf is not None:
            self._draw_mask(zbuf, p, depth)
        if p.kind == "sphere":
            r16 = max(16, round(radius * 16))
            if p.outline:
                cv2.circle(img, a, r16 + 16, tuple(int(c * 0.45) for c in p.color_bgr), -1, cv2.LINE_AA, 4)
            cv2.circle(img, a, r16, p.color_bgr, -1, cv2.LINE_AA, 4)
            if radius > 4:
                hi = (a[0] - r16 // 3, a[1] - r16 // 3)
                cv2.circle(img, hi, r16 // 3, tuple(min(255, int(c * 1.15) + 10) for c in p.color_bgr), -1,
                           cv2.LINE_AA, 4)
            if ids is not None:
                cv2.circle(ids, a, r16, oid, -1, cv2.LINE_8, 4)
        else:
            if p.outline:
                cv2.line(img, a, b, tuple(int(c * 0.45) for c in p.color_bgr), thick + 2, cv2.LINE_AA, 4)
            cv2.line(img, a, b, p.color_bgr, thick, cv2.LINE_AA, 4)
            if thick >= 6:
                cv2.line(img, a, b, tuple(min(255, int(c * 1.12) + 8) for c in p.color_bgr), max(1, thick // 3),
                         cv2.LINE_AA, 4)
            if ids is not None:
                cv2.line(ids, a, b, oid, thick, cv2.LINE_8, 4)

    def _full_box(self, plist: list[Primitive]):
        xs0, ys0, xs1, ys1 = [], [], [], []
        for p in plist:
            if p.kind == "product":
                b = product_bbox(self.cam, self.sim.scenario.product(p.sku), np.array(p.p0), np.array(p.p1[:2]))
                if b is None:
                    continue
                xs0.append(b[0])
                ys0.append(b[1])
                xs1.append(b[2])
                ys1.append(b[3])
                continue
            proj = self._project_capsule(p)
            if proj is None:
                continue
            pix, radius = proj
            xs0.append(pix[:, 0].min() - radius)
            ys0.append(pix[:, 1].min() - radius)
            xs1.append(pix[:, 0].max() + radius)
            ys1.append(pix[:, 1].max() + radius)
        if not xs0:
            return None
        return float(min(xs0)), float(min(ys0)), float(max(xs1)), float(max(ys1))

    def _visible(self, ids: np.ndarray, box, oids: list[int], plist: list[Primitive]) -> float:
        """Unoccluded share: pixels still showing the object / pixels it covers when drawn alone."""
        x1, y1, x2, y2 = (int(box[0]), int(box[1]), int(math.ceil(box[2])), int(math.ceil(box[3])))
        scratch = self._scratch
        for p in plist:
            self._draw_mask(scratch, p)
        total = int(np.count_nonzero(scratch[y1:y2, x1:x2]))
        scratch[:] = 0
        if total == 0:
            return 0.0
        shown = int(np.isin(ids[y1:y2, x1:x2], oids).sum())
        return min(1.0, shown / total)

    def _draw_mask(self, mask: np.ndarray, p: Primitive, value: float = 1) -> None:
        if p.kind == "product":
            product = self.sim.scenario.product(p.sku)
            b = product_bbox(self.cam, product, np.array(p.p0), np.array(p.p1[:2]))
            if b is None:
                return
            pix, _ = self.cam.project(product_vertices(product, np.array(p.p0), np.array(p.p1[:2])))
            cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pix).astype(np.int32)), value)
            return
        proj = self._project_capsule(p)
        if proj is None:
            return
        pix, radius = proj
        a = tuple(np.round(pix[0] * 16).astype(np.int32))
        b = tuple(np.round(pix[1] * 16).astype(np.int32))
        if p.kind == "sphere":
            cv2.circle(mask, a, max(16, round(radius * 16)), value, -1, cv2.LINE_8, 4)
        else:
            cv2.line(mask, a, b, value, max(1, round(2 * radius)), cv2.LINE_8, 4)

    def _effects(self, img: np.ndarray, t_s: float, rng: np.random.Generator | None) -> np.ndarray:
        knobs = self.sim.scenario.knobs
        if self.palette.light_change:
            u = 1 / (1 + math.exp(-(t_s - self.palette.light_change_t_s) / 0.8))
            img = cv2.convertScaleAbs(img, alpha=1.0 + self.palette.light_change * (2 * u - 1))
        if knobs.motion_blur_px >= 2:
            k = int(knobs.motion_blur_px)
            kernel = np.zeros((k, k), np.float32)
            kernel[k // 2, :] = 1.0 / k
            img = cv2.filter2D(img, -1, kernel)
        if knobs.pixel_noise > 0 and rng is not None:
            noise = rng.normal(0.0, knobs.pixel_noise, img.shape).astype(np.float32)
            img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        if knobs.jpeg_quality < 100:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(knobs.jpeg_quality)])
            if ok:
                img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return img
