"""Detector training data: random single frames of random scenes, labelled in YOLO format."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from mockstore.catalog import default_catalog, detector_class_names
from mockstore.figures import ARM_KEYPOINTS, shopper_pose
from mockstore.random_scenario import Behaviour, random_scenario
from mockstore.render import Box, CameraRenderer, make_palette
from mockstore.scenario import Knobs, StoreSpec
from mockstore.scene import make_cameras
from mockstore.script import compile_scenario, seed_streams

log = logging.getLogger(__name__)

# Left and right joints swap places when an image is mirrored (ultralytics' flip_idx).
POSE_FLIP = [3, 4, 5, 0, 1, 2]
# Val scenes use seeds from this offset on, so they never repeat a train scene.
VAL_SEED_OFFSET = 1_000_000


@dataclass(frozen=True)
class YoloConfig:
    """Which truth boxes become labels, and how scenes are varied (visible shares in [0, 1], pixels)."""

    frames_per_scene: int = 4
    near_event_share: float = 0.5
    min_visible_shopper: float = 0.2
    min_visible_hand: float = 0.35
    min_visible_product: float = 0.4
    min_box_px: float = 3.0
    jpeg_quality: int = 92
    max_pixel_noise: float = 8.0
    max_motion_blur_px: int = 5
    max_lighting_change: float = 0.35
    min_jpeg_quality: int = 35
    # Pose labels instead of boxes: every shopper box with its arm joints (``pose_lines``).
    keypoints: bool = False
    # Share of scenes drawn from the walled multi-aisle store (``layout="store"``: 2-3 aisles, 4-6
    # ceiling cameras, 1-6 shoppers), the rest from the one-aisle layout.
    store_share: float = 0.0
    store_seen_share: float = 0.85


def class_id(box: Box, sku_index: dict[str, int]) -> int | None:
    """Detector class of a truth box: 0 shopper, 1 hand, 2 + catalog index for products (else None)."""
    if box.object == "shopper":
        return 0
    if box.object == "hand":
        return 1
    index = sku_index.get(box.sku)
    return None if index is None else 2 + index


def yolo_lines(boxes: list[Box], width_px: int, height_px: int, config: YoloConfig | None = None) -> list[str]:
    """Truth boxes -> YOLO label lines ``class cx cy w h`` (normalised to [0, 1])."""
    config = config or YoloConfig()
    sku_index = {p.sku: i for i, p in enumerate(default_catalog())}
    minimum = {"shopper": config.min_visible_shopper, "hand": config.min_visible_hand,
               "product_in_hand": config.min_visible_product, "product_on_shelf": config.min_visible_product}
    lines = []
    for b in boxes:
        cls = class_id(b, sku_index)
        if cls is None or b.visible < minimum[b.object]:
            continue
        if b.x2 - b.x1 < config.min_box_px or b.y2 - b.y1 < config.min_box_px:
            continue
        cx, cy = (b.x1 + b.x2) / 2 / width_px, (b.y1 + b.y2) / 2 / height_px
        w, h = (b.x2 - b.x1) / width_px, (b.y2 - b.y1) / height_px
        vals = [min(max(v, 0.0), 1.0) for v in (cx, cy, w, h)]
        lines.append(f"{cls} {vals[0]:.6f} {vals[1]:.6f} {vals[2]:.6f} {vals[3]:.6f}")
    return lines


def pose_lines(boxes: list[Box], joints: dict[int, np.ndarray], width_px: int, height_px: int,
               config: YoloConfig | None = None) -> list[str]:
    """Truth shoppers -> YOLO pose label lines ``0 cx cy w h`` + ``x y v`` per ``ARM_KEYPOINTS`` joint.

    Joints hidden behind something are labelled (v = 1: a pose model must place a wrist hidden behind a
    head from the arm that leads to it); joints outside the image or behind the camera are not (v = 0).
    A wrist is v = 2 when a hand box of that shopper, at least ``min_visible_hand`` visible, lies on it.
    """
    config = config or YoloConfig()
    size = np.array([width_px, height_px], dtype=float)
    lines = []
    for b in boxes:
        if b.object != "shopper" or b.visible < config.min_visible_shopper or b.track_id not in joints:
            continue
        if b.x2 - b.x1 < config.min_box_px or b.y2 - b.y1 < config.min_box_px:
            continue
        seen = [h for h in boxes if h.object == "hand" and h.track_id == b.track_id and h.visible >= config.min_visible_hand]
        fields = [(b.x1 + b.x2) / 2 / width_px, (b.y1 + b.y2) / 2 / height_px,
                  (b.x2 - b.x1) / width_px, (b.y2 - b.y1) / height_px]
        fields = [min(max(v, 0.0), 1.0) for v in fields]
        values = []
        for k, (x, y, depth) in enumerate(joints[b.track_id]):
            inside = depth > 0.1 and 0 <= x < width_px and 0 <= y < height_px
            if not inside:
                values += [0.0, 0.0, 0]
                continue
            on_hand = k % 3 == 2 and any(h.x1 <= x <= h.x2 and h.y1 <= y <= h.y2 for h in seen)
            values += [*(np.array([x, y]) / size), 2 if (k % 3 != 2 or on_hand) else 1]
        lines.append("0 " + " ".join(f"{v:.6f}" for v in fields) + " "
                     + " ".join(f"{v:.6f}" if i % 3 != 2 else str(int(v)) for i, v in enumerate(values)))
    return lines


def _scene_knobs(rng: np.random.Generator, config: YoloConfig) -> Knobs:
    return Knobs(
        lighting_change=float(rng.uniform(0, config.max_lighting_change)) if rng.random() < 0.5 else 0.0,
        pixel_noise=float(rng.uniform(0, config.max_pixel_noise)) if rng.random() < 0.6 else 0.0,
        motion_blur_px=int(rng.integers(0, config.max_motion_blur_px + 1)) if rng.random() < 0.3 else 0,
        jpeg_quality=int(rng.integers(config.min_jpeg_quality, 101)) if rng.random() < 0.5 else 100,
        scene_variation=1.0,
    )


def _random_scene(seed: int, rng: np.random.Generator, width_px: int, height_px: int, config: YoloConfig):
    """One random training scene: a walled store (``store_share`` of scenes) or a one-aisle layout.
    With ``store_share`` 0 no draw is spent on the choice, so aisle-only exports stay as they were."""
    behaviour = Behaviour(max_actions=4, same_shelf=0.5, returns=0.2, double_pick=0.35, hold=0.2)
    if config.store_share > 0 and rng.random() < config.store_share:
        n_shoppers, n_cameras, aisles = int(rng.integers(1, 7)), int(rng.integers(4, 7)), int(rng.integers(2, 4))
        return random_scenario(seed, n_shoppers=n_shoppers, duration_s=40.0, n_cameras=n_cameras,
                               width_px=width_px, height_px=height_px, knobs=_scene_knobs(rng, config),
                               behaviour=behaviour, layout="store", aisles=aisles)
    store = StoreSpec(aisle_length_m=float(rng.uniform(1.8, 3.2)), aisle_width_m=float(rng.uniform(1.6, 2.2)),
                      levels=int(rng.integers(2, 5)), plates_per_shelf=int(rng.integers(3, 6)))
    return random_scenario(seed, n_shoppers=int(rng.integers(0, 5)), duration_s=16.0, n_cameras=2,
                           width_px=width_px, height_px=height_px, knobs=_scene_knobs(rng, config),
                           behaviour=behaviour, store=store)


def _camera_seeing_someone(sim, renderers: list, at_s: float, rng: np.random.Generator, config: YoloConfig):
    """A store scene's camera for one frame: with ``store_seen_share`` chance one of the cameras in
    whose image some shopper's chest (1.2 m up) falls, else any camera (empty aisles are examples too)."""
    chests = [np.array([*pose.xy, 1.2]) for track in sim.shoppers
              if (pose := shopper_pose(track, sim, at_s)) is not None]
    seeing = []
    if chests and rng.random() < config.store_seen_share:
        for renderer in renderers:
            cam = renderer.cam
            pixels, depth = cam.project(np.array(chests))
            inside = (depth > 0.3) & (pixels[:, 0] >= 0) & (pixels[:, 0] < cam.width_px) \
                & (pixels[:, 1] >= 0) & (pixels[:, 1] < cam.height_px)
            if inside.any():
                seeing.append(renderer)
    pool = seeing or renderers
    return pool[int(rng.integers(len(pool)))]


def _render_split(out_dir: Path, split: str, n_images: int, seed0: int, width_px: int, height_px: int,
                  config: YoloConfig) -> int:
    images = out_dir / "images" / split
    labels = out_dir / "labels" / split
    sidecars = out_dir / "boxes" / split
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    sidecars.mkdir(parents=True, exist_ok=True)
    written = 0
    scene = 0
    stems: set[str] = set()
    while written < n_images:
        seed = seed0 + scene
        scene += 1
        rng = np.random.default_rng([seed, 99])
        scenario = _random_scene(seed, rng, width_px, height_px, config)
        sim = compile_scenario(scenario)
        streams = seed_streams(scenario.seed)
        cams = make_cameras(scenario, streams[4])
        palette = make_palette(sim, streams[5])
        renderers = [CameraRenderer(sim, cam, palette) for cam in cams]
        renderer = renderers[int(rng.integers(len(renderers)))]
        in_store = sim.layout.is_store
        # A share of the frames near picks/returns (arms in shelves, items in hands), the rest anywhere.
        times = []
        for _ in range(config.frames_per_scene):
            if sim.events and rng.random() < config.near_event_share:
                event = sim.events[int(rng.integers(len(sim.events)))]
                times.append(event.t_s + float(rng.uniform(-0.8, 2.0)))
            else:
                times.append(float(rng.uniform(0, scenario.duration_s)))
        for t in sorted(times):
            if written >= n_images:
                break
            at = min(max(t, 0.0), scenario.duration_s - 1e-3)
            if in_store:  # a store has many cameras, most of them on empty aisles at any moment
                renderer = _camera_seeing_someone(sim, renderers, at, rng, config)
            img, boxes = renderer.render(at, rng)
            stem = f"{split}_{seed:07d}_{int(t * 1000):05d}"
            if stem in stems:  # one event drawn twice, both times in one millisecond
                stem += f"_{written}"
            stems.add(stem)
            cv2.imwrite(str(images / f"{stem}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
            if config.keypoints:
                lines = pose_lines(boxes, renderer.keypoints(at), width_px, height_px, config)
            else:
                lines = yolo_lines(boxes, width_px, height_px, config)
            (labels / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            # Every truth box, unfiltered, with owner and visible share: what each hand really holds;
            # and for shoppers how far they reach into a shelf (0 for other objects).
            reach = renderer.reaches(at)
            (sidecars / f"{stem}.csv").write_text(
                "object,track_id,sku,x1,y1,x2,y2,visible,reach\n"
                + "".join(f"{b.object},{b.track_id},{b.sku},{b.x1:.1f},{b.y1:.1f},{b.x2:.1f},{b.y2:.1f},{b.visible:.2f},"
                          f"{reach.get(b.track_id, 0.0) if b.object == 'shopper' else 0.0:.2f}\n"
                          for b in boxes)
            )
            written += 1
    return written


def export_yolo_dataset(out_dir: str | Path, *, n_train: int, n_val: int, seed: int = 0, width: int = 640,
                        height: int = 360, config: YoloConfig | None = None) -> Path:
    """Render ``n_train`` + ``n_val`` labelled frames into a YOLO dataset; returns the data.yaml path.

    Writes ``images/{train,val}/*.jpg``, ``labels/{train,val}/*.txt`` (``class cx cy w h``, normalised),
    ``boxes/{train,val}/*.csv`` (every truth box, unfiltered: object, owner, sku, pixels, visible share)
    and ``data.yaml`` (absolute ``path``, ``train``, ``val``, ``names`` = :func:`detector_class_names`).
    Scenes are random (store size, colours, camera pose, shoppers, knobs); val scenes use seeds disjoint
    from train.
    """
    config = config or YoloConfig()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    base = seed * 10 * VAL_SEED_OFFSET
    n_tr = _render_split(out_dir, "train", n_train, base, width, height, config)
    n_va = _render_split(out_dir, "val", n_val, base + VAL_SEED_OFFSET, width, height, config)
    names = ["shopper"] if config.keypoints else detector_class_names()
    data = {"path": str(out_dir), "train": "images/train", "val": "images/val", "nc": len(names),
            "names": names}
    if config.keypoints:
        data.update(kpt_shape=[len(ARM_KEYPOINTS), 3], flip_idx=POSE_FLIP, kpt_names={0: list(ARM_KEYPOINTS)})
    path = out_dir / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    log.info("%s: %d train + %d val images, %d classes", path, n_tr, n_va, len(names))
    return path
