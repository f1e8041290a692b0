"""`walkout train`: render labelled frames with the mock store, train the detector and the held-item classifier.

Two models, by design:
- the **detector** (YOLOv8 layout, built from its architecture description, no pretrained weights)
  finds shoppers, hands and products (one generic ``product`` class) at a reduced input size,
  which keeps it real-time on a 2-core CPU;
- the **held-item classifier** (YOLOv8-cls layout) names the product and counts items in a
  full-resolution crop around each hand. A product in a hand is 10-20 px in a 640x360 ceiling
  view: at the detector's input size it is a few pixels, too few to tell eight look-alike packs
  apart, but a 64x64 crop from the full frame keeps its label and shape legible.

Writes ``walkout-det.pt``, ``walkout-held.pt``, ``training.json`` (figures) and ``README.md`` (the
model card) into the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml

from vision.products import EMPTY_CLASS, HELD_PREFIX, hand_crops

log = logging.getLogger(__name__)
DETECTOR_CLASSES = ("shopper", "hand", "product")


@dataclass(frozen=True)
class TrainConfig:
    """Sizes are image counts; ``width_multiple`` scales the YOLOv8 channel widths (0.25 = 'n')."""

    images: int = 1200
    val_images: int = 200
    epochs: int = 25
    imgsz: int = 416
    batch: int = 16
    width_multiple: float = 0.125
    depth_multiple: float = 0.33
    classifier_epochs: int = 40
    classifier_width_multiple: float = 0.25
    # Renders for the hand model and the held-item classifier, mostly near picks and returns:
    # (seed, train frames, validation frames, share of frames near events).
    held_exports: tuple[tuple[int, int, int, float], ...] = ((2000, 1400, 300, 0.9), (2500, 2400, 400, 0.95))
    classifier_imgsz: int = 64
    crop_scale: float = 2.5
    crop_min_px: int = 24
    crop_jitter: float = 0.15
    min_visible_hand: float = 0.35
    min_visible_shopper: float = 0.2
    hand_crop_margin: float = 0.35
    hand_imgsz: int = 192
    hand_epochs: int = 15
    hand_width_multiple: float = 0.125
    min_visible_held: float = 0.05
    min_visible_held_box: float = 0.25
    # The reach classifier (walkout-reach.pt, ``train(reach=True)``): is this shopper reaching into a
    # shelf? Crops around each shopper of these renders, labelled from the render's own reach extent,
    # as (seed, train frames, validation frames, share of frames near events).
    reach_exports: tuple[tuple[int, int, int, float], ...] = ((5000, 4000, 400, 0.7), (6000, 6000, 600, 0.9))
    # Shopper boxes are jittered by this share of their size before cropping (the pipeline crops around
    # detected, not true, boxes).
    shopper_crop_jitter: float = 0.08
    reach_on: float = 0.5
    reach_off: float = 0.15
    reach_imgsz: int = 96
    reach_epochs: int = 25
    # Fine-tuning the detector (``train_one("detector")``): the shipped walkout-det.pt, this many more
    # epochs at a small rate and at ``finetune_imgsz`` on this export: (seed, train frames, validation
    # frames, share of frames near events, share of scenes from the walled multi-aisle store). The
    # shipped file had two rounds at 416: (6000, 6000, 600, 0.9, 0.0), then this one, the first with
    # store views (models/README.md has the rounds tried at 512, the size `walkout run` uses).
    finetune_export: tuple[int, int, int, float, float] = (7000, 3000, 300, 0.5, 0.6)
    finetune_epochs: int = 3
    finetune_lr: float = 0.002
    finetune_imgsz: int = 416
    seed: int = 1000
    workers: int = 2


def _architecture(kind: str, nc: int, config: TrainConfig, out: Path) -> Path:
    """Our scaled copy of ultralytics' YOLOv8 architecture description (read from the installed package)."""
    from ultralytics.nn.tasks import yaml_model_load

    spec = yaml_model_load("yolov8n.yaml" if kind == "detect" else "yolov8n-cls.yaml")
    spec["scales"] = {"n": [config.depth_multiple, config.width_multiple, 1024]}
    spec["scale"] = "n"
    spec["nc"] = nc
    path = out / f"walkout-{kind}-arch.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _read_labels(path: Path) -> np.ndarray:
    """YOLO label file -> (N, 5) [class, cx, cy, w, h] normalised."""
    if not path.is_file() or not path.read_text().strip():
        return np.empty((0, 5))
    return np.loadtxt(path, ndmin=2)


def build_detector_labels(source: Path, target: Path, names: list[str]) -> Path:
    """Remap the mock store's labels (shopper, hand, sku_*) to (shopper, hand, product)."""
    remap = np.array([DETECTOR_CLASSES.index("product") if n.startswith("sku_") else DETECTOR_CLASSES.index(n)
                      for n in names])
    for split in ("train", "val"):
        # Hard links, not a symlinked folder: ultralytics resolves symlinks and would then read
        # the original (12-class) labels beside the original images.
        images = target / "images" / split
        images.mkdir(parents=True, exist_ok=True)
        for image in sorted((source / "images" / split).glob("*.jpg")):
            if not (images / image.name).exists():
                try:
                    os.link(image, images / image.name)
                except OSError:
                    shutil.copyfile(image, images / image.name)
        labels = target / "labels" / split
        labels.mkdir(parents=True, exist_ok=True)
        for label in sorted((source / "labels" / split).glob("*.txt")):
            rows = _read_labels(label)
            if len(rows):
                rows[:, 0] = remap[rows[:, 0].astype(int)]
            np.savetxt(labels / label.name, rows, fmt=["%d", "%.6f", "%.6f", "%.6f", "%.6f"])
    data = target / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(target.resolve()), "train": "images/train", "val": "images/val",
                                    "names": dict(enumerate(DETECTOR_CLASSES))}))
    return data


def held_by_hand(boxes: pd.DataFrame, config: TrainConfig) -> list[tuple[np.ndarray, str]]:
    """From one frame's unfiltered truth boxes: every hand a detector would see (visible share >=
    ``min_visible_hand``) and what it holds, as ``(xyxy, class name)``.

    Each in-hand product goes to its owner's nearest hand, however hidden it is (a held item is
    often mostly covered by the hand): the crop classifier must learn to see the part that shows.
    Only products with no visible pixels at all are left out.
    """
    hands = boxes[(boxes["object"] == "hand") & (boxes["visible"] >= config.min_visible_hand)]
    products = boxes[(boxes["object"] == "product_in_hand") & (boxes["visible"] >= config.min_visible_held)]
    all_hands = boxes[boxes["object"] == "hand"]
    held: dict[int, list[str]] = {}
    for product in products.itertuples(index=False):
        mine = all_hands[all_hands["track_id"] == product.track_id]
        if mine.empty:
            continue
        centre = np.array([(product.x1 + product.x2) / 2, (product.y1 + product.y2) / 2])
        hand_centres = np.column_stack([(mine["x1"] + mine["x2"]) / 2, (mine["y1"] + mine["y2"]) / 2])
        nearest = mine.index[int(np.argmin(np.linalg.norm(hand_centres - centre, axis=1)))]
        held.setdefault(nearest, []).append(str(product.sku))
    result = []
    for index, hand in hands.iterrows():
        skus = held.get(index, [])
        if skus:
            names, votes = np.unique(skus, return_counts=True)
            label = f"sku_{names[votes.argmax()]}_x{min(int(votes.max()), 2)}"
        else:
            label = EMPTY_CLASS
        result.append((hand[["x1", "y1", "x2", "y2"]].to_numpy(float), label))
    return result


def build_crop_dataset(sources: list[Path], target: Path, config: TrainConfig) -> dict[str, dict[str, int]]:
    """Crops around every hand of the renders, filed by what it holds: ``empty`` or ``sku_<sku>_x<count>``.

    Labels come from the unfiltered truth boxes the export writes beside each image
    (``boxes/<split>/<stem>.csv``). Crop boxes are jittered by ``crop_jitter`` so the classifier
    tolerates detector boxes that are a little off.
    """
    rng = np.random.default_rng(config.seed)
    counts: dict[str, dict[str, int]] = {}
    for split in ("train", "val"):
        counts[split] = {}
        for sidecar in sorted(p for source in sources for p in (source / "boxes" / split).glob("*.csv")):
            image_path = sidecar.parents[2] / "images" / split / f"{sidecar.stem}.jpg"
            boxes = pd.read_csv(sidecar, dtype={"sku": str}, keep_default_na=False)
            pairs = held_by_hand(boxes, config)
            if not pairs or not image_path.is_file():
                continue
            image = cv2.imread(str(image_path))
            for i, (box, name) in enumerate(pairs):
                size = box[2:] - box[:2]
                jitter = rng.uniform(-config.crop_jitter, config.crop_jitter, 4) * np.r_[size, size]
                crop = hand_crops(image, (box + jitter)[None], config.crop_scale, config.crop_min_px,
                                  config.classifier_imgsz)[0]
                folder = target / split / name
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f"{sidecar.parents[2].name}_{sidecar.stem}_{i}.png"), crop)
                counts[split][name] = counts[split].get(name, 0) + 1
    # A class seen in only one split would be indexed differently by train and val: drop it.
    for split, other in (("train", "val"), ("val", "train")):
        for name in sorted(set(counts[split]) - set(counts[other])):
            log.warning("held class %s has no %s crops: dropped", name, other)
            shutil.rmtree(target / split / name)
            del counts[split][name]
    return counts


def hand_model_classes(skus: list[str]) -> list[str]:
    """Classes of the second-stage model: ``hand``, then ``held_<sku>`` for every product."""
    return ["hand", *[f"{HELD_PREFIX}{sku}" for sku in skus]]


def build_hand_crops(sources: list[Path], target: Path, config: TrainConfig, skus: list[str]) -> dict[str, int]:
    """Crops around every visible shopper (grown by ``hand_crop_margin``), labelled for the second-stage
    model (``hand_model_classes``): the hands inside them (visible share >= ``min_visible_hand``) and
    every product held in a hand (visible share >= ``min_visible_held_box``) as ``held_<sku>``, one box
    per item, whoever holds it. A box belongs to a crop when its centre is inside. Returns crops per split."""
    from vision.hand_detector import shopper_crop_boxes

    names = hand_model_classes(skus)
    counts = {}
    for split in ("train", "val"):
        images_out, labels_out = target / "images" / split, target / "labels" / split
        images_out.mkdir(parents=True, exist_ok=True)
        labels_out.mkdir(parents=True, exist_ok=True)
        n = 0
        for source in sources:
            for sidecar in sorted((source / "boxes" / split).glob("*.csv")):
                boxes = pd.read_csv(sidecar, dtype={"sku": str}, keep_default_na=False)
                shoppers = boxes[(boxes["object"] == "shopper") & (boxes["visible"] >= config.min_visible_shopper)]
                if shoppers.empty:
                    continue
                image = cv2.imread(str(source / "images" / split / f"{sidecar.stem}.jpg"))
                height, width = image.shape[:2]
                hands = boxes[(boxes["object"] == "hand") & (boxes["visible"] >= config.min_visible_hand)]
                held = boxes[(boxes["object"] == "product_in_hand") & (boxes["visible"] >= config.min_visible_held_box)
                             & boxes["sku"].isin(skus)]
                labelled = pd.concat([hands, held])
                classes = np.array([0 if o == "hand" else names.index(f"{HELD_PREFIX}{k}")
                                    for o, k in zip(labelled["object"], labelled["sku"], strict=True)], dtype=int)
                xyxy = labelled[["x1", "y1", "x2", "y2"]].to_numpy(float)
                centres = (xyxy[:, :2] + xyxy[:, 2:]) / 2
                crops = shopper_crop_boxes(shoppers[["x1", "y1", "x2", "y2"]].to_numpy(float),
                                           config.hand_crop_margin, width, height)
                for i, (x1, y1, x2, y2) in enumerate(crops):
                    if x2 - x1 < 16 or y2 - y1 < 16:
                        continue
                    inside = (centres[:, 0] >= x1) & (centres[:, 0] < x2) & (centres[:, 1] >= y1) & (centres[:, 1] < y2)
                    local = xyxy[inside] - np.array([x1, y1, x1, y1])
                    local[:, [0, 2]] = local[:, [0, 2]].clip(0, x2 - x1)
                    local[:, [1, 3]] = local[:, [1, 3]].clip(0, y2 - y1)
                    w, h = x2 - x1, y2 - y1
                    rows = [f"{c} {(a + e) / 2 / w:.6f} {(b + d) / 2 / h:.6f} {(e - a) / w:.6f} {(d - b) / h:.6f}"
                            for c, (a, b, e, d) in zip(classes[inside], local, strict=True)]
                    stem = f"{source.name}_{sidecar.stem}_{i}"
                    cv2.imwrite(str(images_out / f"{stem}.jpg"), image[y1:y2, x1:x2])
                    (labels_out / f"{stem}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
                    n += 1
        counts[split] = n
    data = target / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(target.resolve()), "train": "images/train", "val": "images/val",
                                    "names": dict(enumerate(names))}))
    return counts


def train_hand_model(out: Path, config: TrainConfig, work: Path, sources: list[Path]) -> dict:
    """Train walkout-hands.pt, the second-stage model on shopper crops: hands and the products held in them."""
    from ultralytics import YOLO

    from mockstore.catalog import default_catalog

    crops = work / "hand-crops"
    if crops.exists():
        shutil.rmtree(crops)
    skus = [product.sku for product in default_catalog()]
    counts = build_hand_crops(sources, crops, config, skus)
    started = time.perf_counter()
    arch = _architecture("detect", len(hand_model_classes(skus)),
                         dataclasses.replace(config, width_multiple=config.hand_width_multiple), work)
    model = YOLO(str(arch))
    model.train(data=str(crops / "data.yaml"), epochs=config.hand_epochs, imgsz=config.hand_imgsz, batch=32,
                device="cpu", workers=config.workers, plots=False, amp=False, verbose=False, seed=config.seed,
                project=str(work / "runs"), name="hands", exist_ok=True, fliplr=0.5, mosaic=1.0, close_mosaic=5,
                hsv_h=0.0)  # no hue shift: the held products are told apart by their colours
    seconds = time.perf_counter() - started
    shutil.copyfile(work / "runs" / "hands" / "weights" / "best.pt", out / "walkout-hands.pt")
    metrics = YOLO(str(out / "walkout-hands.pt")).val(data=str(crops / "data.yaml"), imgsz=config.hand_imgsz,
                                                     device="cpu", plots=False, verbose=False,
                                                     project=str(work / "runs"), name="hands-val", exist_ok=True)
    per_class = {int(c): float(ap) for c, ap in zip(metrics.box.ap_class_index, metrics.box.ap50, strict=True)}
    held = [ap for c, ap in per_class.items() if c > 0]
    return {"hand_crops": counts, "hand_train_s": seconds, "hand_map50": per_class.get(0, 0.0),
            "held_box_map50": float(np.mean(held)) if held else 0.0,
            "hand_model_map50": {name: per_class[c] for c, name in enumerate(hand_model_classes(skus)) if c in per_class},
            "hand_precision": float(metrics.box.mp), "hand_recall": float(metrics.box.mr)}


def _folders(out_dir: str | Path, work_dir: str | Path | None) -> tuple[Path, Path]:
    """The output folder and the scratch folder (default OUT/_work), both created. The scratch folder is
    made absolute: ultralytics puts a relative ``project`` under its own runs directory
    (``runs/<task>/...`` of its settings), where the weights would not be found after training."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = (Path(work_dir) if work_dir else out / "_work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    return out, work


def _rendered(renders: Path, config: TrainConfig) -> bool:
    """True when a finished export with the wanted image counts is already there."""
    if not (renders / "data.yaml").is_file():
        return False
    counts = [len(list((renders / "images" / split).glob("*.jpg"))) for split in ("train", "val")]
    return counts == [config.images, config.val_images]


def train(out_dir: str | Path, config: TrainConfig | None = None, work_dir: str | Path | None = None,
          reach: bool = False) -> dict:
    """Render data, train the models, evaluate on held-out renders, write weights and the model card.
    ``reach``: also the reach classifier (walkout-reach.pt, for ``[reaching]``)."""
    from ultralytics import YOLO

    from mockstore.catalog import detector_class_names
    from mockstore.yolo import export_yolo_dataset

    config = config or TrainConfig()
    out, work = _folders(out_dir, work_dir)
    figures: dict = {"config": asdict(config)}

    started = time.perf_counter()
    renders = work / "renders"
    if _rendered(renders, config):
        log.info("reusing the %d + %d frames already rendered in %s", config.images, config.val_images, renders)
    else:
        export_yolo_dataset(renders, n_train=config.images, n_val=config.val_images, seed=config.seed)
    names = list(detector_class_names())
    figures["render_s"] = time.perf_counter() - started
    log.info("rendered %d + %d frames in %.0f s", config.images, config.val_images, figures["render_s"])

    det_data = build_detector_labels(work / "renders", work / "detector", names)

    started = time.perf_counter()
    detector = YOLO(str(_architecture("detect", len(DETECTOR_CLASSES), config, work)))
    detector.train(
        data=str(det_data), epochs=config.epochs, imgsz=config.imgsz, batch=config.batch, device="cpu",
        workers=config.workers, plots=False, amp=False, verbose=False, seed=config.seed, deterministic=False,
        project=str(work / "runs"), name="detector", exist_ok=True, fliplr=0.5, mosaic=1.0, close_mosaic=5,
    )
    figures["detector_train_s"] = time.perf_counter() - started
    best = work / "runs" / "detector" / "weights" / "best.pt"
    shutil.copyfile(best, out / "walkout-det.pt")
    metrics = YOLO(str(out / "walkout-det.pt")).val(data=str(det_data), imgsz=config.imgsz, batch=config.batch,
                                                   device="cpu", plots=False, verbose=False,
                                                   project=str(work / "runs"), name="detector-val", exist_ok=True)
    figures["detector_map50"] = {DETECTOR_CLASSES[int(c)]: float(ap) for c, ap in
                                 zip(metrics.box.ap_class_index, metrics.box.ap50, strict=True)}
    figures["detector_map50_all"] = float(metrics.box.map50)

    figures.update(train_hand_stage(out, config, work))
    models = [out / "walkout-det.pt", out / "walkout-hands.pt", out / "walkout-held.pt"]
    if reach:
        figures.update(train_reach_model(out, config, work))
        models.append(out / "walkout-reach.pt")
    figures["sizes_mb"] = {p.name: round(p.stat().st_size / 1e6, 2) for p in models}
    (out / "training.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    (out / "README.md").write_text(model_card(figures))
    return figures


def near_event_renders(exports: tuple[tuple[int, int, int, float], ...], work: Path, prefix: str,
                       config: TrainConfig) -> list[Path]:
    """Each export (seed, training frames, validation frames, share near events) in ``work/<prefix>-<seed>``,
    rendered unless a finished one is already there."""
    from mockstore.yolo import YoloConfig, export_yolo_dataset

    folders = []
    for seed, n_train, n_val, share in exports:
        folder = work / f"{prefix}-{seed}"
        if not _rendered(folder, dataclasses.replace(config, images=n_train, val_images=n_val)):
            export_yolo_dataset(folder, n_train=n_train, n_val=n_val, seed=seed,
                                config=YoloConfig(near_event_share=share))
        folders.append(folder)
    return folders


def train_hand_stage(out: Path, config: TrainConfig, work: Path) -> dict:
    """The hand stage's two models from the near-event exports: walkout-held.pt (what a hand holds) and
    walkout-hands.pt (hands, and the products held in them, in a crop around each shopper)."""
    renders = near_event_renders(config.held_exports, work, "held-renders", config)
    figures = train_classifier(out, config, work, renders)
    figures.update(train_hand_model(out, config, work, renders))
    return figures


SINGLE_MODELS = {"reach": ("walkout-reach.pt",), "detector": ("walkout-det.pt",),
                 "hands": ("walkout-hands.pt", "walkout-held.pt")}


def train_one(model: str, out_dir: str | Path, config: TrainConfig | None = None,
              work_dir: str | Path | None = None) -> dict:
    """Train only one model, leaving the other files in ``out_dir`` alone: ``reach`` (the add-on
    model), ``detector`` (fine-tune the walkout-det.pt already in ``out_dir``, see
    :func:`finetune_detector`), or ``hands`` (the hand stage from scratch: walkout-hands.pt and
    walkout-held.pt, :func:`train_hand_stage`). Writes ``training-<model>.json`` (figures) beside it and returns the
    figures. The model card (README.md) is not rewritten: its section is logged for you to paste."""
    if model not in SINGLE_MODELS:
        raise ValueError(f"unknown model {model!r}; one of {', '.join(SINGLE_MODELS)}")
    config = config or TrainConfig()
    out, work = _folders(out_dir, work_dir)
    figures: dict = {"config": asdict(config)}
    trainer, card = {"reach": (train_reach_model, _reach_card), "detector": (finetune_detector, _finetune_card),
                     "hands": (train_hand_stage, _hands_card)}[model]
    figures.update(trainer(out, config, work))
    figures["sizes_mb"] = {name: round((out / name).stat().st_size / 1e6, 2) for name in SINGLE_MODELS[model]}
    (out / f"training-{model}.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    log.info("model card section:\n%s", card(figures))
    return figures


def finetune_detector(out: Path, config: TrainConfig, work: Path) -> dict:
    """More epochs for ``out/walkout-det.pt`` on ``finetune_export`` (rendered if needed), at
    ``finetune_imgsz``: frames of one-aisle and walled multi-aisle stores, many near picks.
    Replaces the file; figures: mAP50 per class on that export's held-out frames before and after."""
    start = out / "walkout-det.pt"
    if not start.is_file():
        raise FileNotFoundError(f"{start}: no detector to fine-tune (run `walkout train` first, or point "
                                "--out at a folder holding one)")
    from ultralytics import YOLO

    from mockstore.catalog import detector_class_names
    from mockstore.yolo import YoloConfig, export_yolo_dataset
    seed, n_train, n_val, share, store_share = config.finetune_export
    folder = work / f"detector-renders-{seed}"
    if not _rendered(folder, dataclasses.replace(config, images=n_train, val_images=n_val)):
        export_yolo_dataset(folder, n_train=n_train, n_val=n_val, seed=seed,
                            config=YoloConfig(near_event_share=share, store_share=store_share))
    data = build_detector_labels(folder, work / f"detector-{seed}", list(detector_class_names()))

    def map50(path: Path, name: str) -> dict[str, float]:
        metrics = YOLO(str(path)).val(data=str(data), imgsz=config.finetune_imgsz, batch=config.batch,
                                      device="cpu", plots=False, verbose=False, project=str(work / "runs"),
                                      name=name, exist_ok=True)
        per_class = {DETECTOR_CLASSES[int(c)]: float(ap) for c, ap in
                     zip(metrics.box.ap_class_index, metrics.box.ap50, strict=True)}
        return {**per_class, "all": float(metrics.box.map50)}

    before = map50(start, "finetune-before")
    started = time.perf_counter()
    YOLO(str(start)).train(
        data=str(data), epochs=config.finetune_epochs, imgsz=config.finetune_imgsz, batch=config.batch,
        device="cpu", workers=config.workers, plots=False, amp=False, verbose=False, seed=seed, deterministic=False,
        project=str(work / "runs"), name="finetune", exist_ok=True, fliplr=0.5, mosaic=1.0, close_mosaic=1,
        lr0=config.finetune_lr, lrf=0.1, warmup_epochs=0, optimizer="SGD",
    )
    train_s = time.perf_counter() - started
    best = work / "runs" / "finetune" / "weights" / "best.pt"
    after = map50(best, "finetune-after")
    shutil.copyfile(best, start)
    return {"finetune_export": [seed, n_train, n_val, share, store_share], "finetune_train_s": train_s,
            "finetune_map50_before": before, "finetune_map50_after": after}


def _training_crop_box(box: np.ndarray, rng: np.random.Generator, config: TrainConfig, width: int,
                       height: int) -> tuple[int, int, int, int] | None:
    """The pipeline's crop around a shopper box (``hand_crop_margin``), the box first jittered by
    ``shopper_crop_jitter`` of its size (the pipeline crops around detected, not true, boxes); None under 16 px."""
    from vision.hand_detector import shopper_crop_boxes

    size = box[2:] - box[:2]
    jittered = box + rng.uniform(-config.shopper_crop_jitter, config.shopper_crop_jitter, 4) * np.tile(size, 2)
    ((x1, y1, x2, y2),) = shopper_crop_boxes(jittered[None], config.hand_crop_margin, width, height)
    if x2 - x1 < 16 or y2 - y1 < 16:
        return None
    return int(x1), int(y1), int(x2), int(y2)


REACH_CLASSES = ("idle", "reaching")


def build_reach_crops(sources: list[Path], target: Path, config: TrainConfig) -> dict[str, dict[str, int]]:
    """Crops around every shopper of renders whose sidecars carry the ``reach`` column, in ultralytics'
    classification layout ``target/{train,val}/{idle,reaching}/``: ``reaching`` when the shopper's hand is
    at least ``reach_on`` of the way into the shelf, ``idle`` at most ``reach_off`` (in between: left out,
    the arm is on its way). Shoppers less than ``min_visible_shopper`` visible are left out; crop boxes
    are the pipeline's (``hand_crop_margin`` around the box), jittered by ``shopper_crop_jitter``."""

    rng = np.random.default_rng(config.seed)
    counts: dict[str, dict[str, int]] = {}
    for split in ("train", "val"):
        counts[split] = dict.fromkeys(REACH_CLASSES, 0)
        for name in REACH_CLASSES:
            (target / split / name).mkdir(parents=True, exist_ok=True)
        for source in sources:
            for sidecar in sorted((source / "boxes" / split).glob("*.csv")):
                boxes = pd.read_csv(sidecar, dtype={"sku": str}, keep_default_na=False)
                if "reach" not in boxes.columns:
                    raise ValueError(f"{sidecar}: no reach column (render it again with this version of mockstore)")
                shoppers = boxes[(boxes["object"] == "shopper") & (boxes["visible"] >= config.min_visible_shopper)]
                if shoppers.empty:
                    continue
                image = cv2.imread(str(source / "images" / split / f"{sidecar.stem}.jpg"))
                height, width = image.shape[:2]
                for row in shoppers.itertuples():
                    if config.reach_off < row.reach < config.reach_on:
                        continue
                    crop = _training_crop_box(np.array([row.x1, row.y1, row.x2, row.y2], dtype=float), rng, config,
                                              width, height)
                    if crop is None:
                        continue
                    x1, y1, x2, y2 = crop
                    name = REACH_CLASSES[int(row.reach >= config.reach_on)]
                    cv2.imwrite(str(target / split / name / f"{source.name}_{sidecar.stem}_{row.track_id}.jpg"),
                                image[y1:y2, x1:x2])
                    counts[split][name] += 1
    return counts


def train_reach_model(out: Path, config: TrainConfig, work: Path) -> dict:
    """Train walkout-reach.pt: is the shopper in this crop reaching into a shelf (``reaching``) or not."""
    from ultralytics import YOLO

    renders = near_event_renders(config.reach_exports, work, "reach-renders", config)
    crops = work / "reach-crops"
    if crops.exists():
        shutil.rmtree(crops)
    counts = build_reach_crops(renders, crops, config)
    started = time.perf_counter()
    arch = _architecture("classify", len(REACH_CLASSES),
                         dataclasses.replace(config, width_multiple=config.classifier_width_multiple), work)
    model = YOLO(str(arch))
    # No random erasing: it can wipe out the reaching arm, the one thing that tells the classes apart.
    model.train(data=str(crops), epochs=config.reach_epochs, imgsz=config.reach_imgsz, batch=64, device="cpu",
                workers=config.workers, plots=False, amp=False, verbose=False, seed=config.seed,
                project=str(work / "runs"), name="reach", exist_ok=True, fliplr=0.5, hsv_h=0.0, erasing=0.0,
                auto_augment=None, patience=100)
    seconds = time.perf_counter() - started
    shutil.copyfile(work / "runs" / "reach" / "weights" / "best.pt", out / "walkout-reach.pt")
    metrics = YOLO(str(out / "walkout-reach.pt")).val(data=str(crops), imgsz=config.reach_imgsz, device="cpu",
                                                     plots=False, verbose=False, project=str(work / "runs"),
                                                     name="reach-val", exist_ok=True)
    return {"reach_crops": counts, "reach_train_s": seconds, "reach_top1": float(metrics.top1)}


def _finetune_card(figures: dict) -> str:
    seed, n_train, n_val, share, store_share = figures["finetune_export"]
    before, after = figures["finetune_map50_before"], figures["finetune_map50_after"]
    c = figures["config"]
    return f"""Fine-tuned (`walkout train --only detector`): {c['finetune_epochs']} more epochs at lr0
{c['finetune_lr']}, imgsz {c['finetune_imgsz']}, on export seed {seed} ({n_train} + {n_val} frames,
{share:.0%} near events, {store_share:.0%} of scenes from the walled multi-aisle store), {figures['finetune_train_s'] / 60:.0f} min. mAP50 on its
{n_val} held-out frames before -> after: shopper {before.get('shopper', 0):.3f} -> {after.get('shopper', 0):.3f},
product {before.get('product', 0):.3f} -> {after.get('product', 0):.3f}.
"""


def _exports_text(exports) -> str:
    """The model card's words for near-event exports: seed, frames and share near events of each."""
    return ", ".join(f"seed {s}: {n} + {v} frames, {share:.0%} near events" for s, n, v, share in exports)


def _hands_card(figures: dict) -> str:
    c = figures["config"]
    return f"""Hand stage (`walkout train --only hands`), from the near-event exports ({_exports_text(c['held_exports'])}):
walkout-hands.pt on {figures['hand_crops']['train']} + {figures['hand_crops']['val']} shopper crops, {c['hand_epochs']} epochs,
{figures['hand_train_s'] / 60:.0f} min: hand mAP50 {figures['hand_map50']:.3f} (precision {figures['hand_precision']:.3f}, recall
{figures['hand_recall']:.3f}), held products mAP50 {figures['held_box_map50']:.3f}; walkout-held.pt, {c['classifier_epochs']} epochs,
{figures['held_train_s'] / 60:.0f} min: top-1 {figures['held_top1']:.3f} on its held-out crops.
"""


def _reach_card(figures: dict) -> str:
    c, crops = figures["config"], figures["reach_crops"]
    exports = _exports_text(c["reach_exports"])
    return f"""## walkout-reach.pt: is this shopper reaching into a shelf?
- Architecture: YOLOv8-cls layout, width {c['classifier_width_multiple']}, 2 classes (`idle`, `reaching`), on a
  crop around each tracked shopper (the box grown {c['hand_crop_margin']:.0%} each side, imgsz {c['reach_imgsz']}).
- Data: crops of every shopper at least {c['min_visible_shopper']:.0%} visible in the renders ({exports}),
  labelled from the render's own reach extent: `reaching` from {c['reach_on']}, `idle` up to {c['reach_off']}
  (arms on their way left out); {crops['train']['reaching']} + {crops['train']['idle']} training,
  {crops['val']['reaching']} + {crops['val']['idle']} validation crops (reaching + idle); boxes jittered by {c['shopper_crop_jitter']:.0%}.
- Training: {c['reach_epochs']} epochs, {figures['reach_train_s'] / 60:.0f} min.
- Top-1 accuracy on held-out crops: {figures['reach_top1']:.3f} (all `idle`: {crops['val']['idle'] / max(sum(crops['val'].values()), 1):.3f}).

"""


def train_classifier(out: Path, config: TrainConfig, work: Path, renders: list[Path]) -> dict:
    """Build hand crops from ``renders`` (an export with sidecar boxes) and train walkout-held.pt."""
    from ultralytics import YOLO

    crops = work / "held"
    if crops.exists():
        shutil.rmtree(crops)
    crop_counts = build_crop_dataset(renders, crops, config)
    started = time.perf_counter()
    arch = _architecture("classify", len(crop_counts["train"]),
                         dataclasses.replace(config, width_multiple=config.classifier_width_multiple), work)
    classifier = YOLO(str(arch))
    # No random erasing or RandAugment: on 64 px crops they wipe out the few pixels of the held item.
    classifier.train(
        data=str(crops), epochs=config.classifier_epochs, imgsz=config.classifier_imgsz, batch=64,
        device="cpu", workers=config.workers, plots=False, amp=False, verbose=False, seed=config.seed,
        project=str(work / "runs"), name="held", exist_ok=True, fliplr=0.5, hsv_h=0.0, erasing=0.0,
        auto_augment=None, patience=100,
    )
    seconds = time.perf_counter() - started
    shutil.copyfile(work / "runs" / "held" / "weights" / "best.pt", out / "walkout-held.pt")
    metrics = YOLO(str(out / "walkout-held.pt")).val(data=str(crops), imgsz=config.classifier_imgsz, device="cpu",
                                                    plots=False, verbose=False, project=str(work / "runs"),
                                                    name="held-val", exist_ok=True)
    return {"held_crops": crop_counts, "held_train_s": seconds, "held_top1": float(metrics.top1)}


def model_card(figures: dict) -> str:
    """The models/README.md text, from the figures of one training run."""
    c = figures["config"]
    det_rows = "\n".join(f"| {name} | {ap:.3f} |" for name, ap in figures["detector_map50"].items())
    crops = figures["held_crops"]
    return f"""# walkout models

Made by `walkout train` on mock-store renders only (no pretrained weights, no downloaded data).

## walkout-det.pt: shoppers, hands, products
- Architecture: YOLOv8 detection layout built from its architecture description, depth
  {c['depth_multiple']}, width {c['width_multiple']} (narrower than 'n'), 3 classes: shopper, hand, product.
- Data: {c['images']} training and {c['val_images']} held-out validation frames rendered by
  `mockstore.yolo.export_yolo_dataset` (random scenes with every difficulty knob; validation
  scenes use seeds the training scenes never use). Seed {c['seed']}.
- Training: {c['epochs']} epochs at imgsz {c['imgsz']}, batch {c['batch']}, CPU (2 cores):
  {figures['detector_train_s'] / 60:.0f} min (rendering {figures['render_s'] / 60:.1f} min).
- mAP50 on the held-out renders: {figures['detector_map50_all']:.3f} overall

| class | mAP50 |
|---|---|
{det_rows}

## walkout-held.pt: what a hand holds
- Architecture: YOLOv8-cls layout, same scaling, {len(crops['train'])} classes (`empty`, and
  `sku_<sku>_x<count>` for one or two items of each product).
- Data: {sum(crops['train'].values())} training and {sum(crops['val'].values())} validation crops
  ({c['classifier_imgsz']}x{c['classifier_imgsz']}) around every labelled hand of the same renders,
  crop side {c['crop_scale']}x the hand box, jittered by {c['crop_jitter']:.0%}.
- Training: {c['classifier_epochs']} epochs, {figures['held_train_s'] / 60:.0f} min.
- Top-1 accuracy on held-out crops: {figures['held_top1']:.3f}

{_reach_card(figures) if 'reach_top1' in figures else ''}Sizes: {', '.join(f'{k} {v} MB' for k, v in figures['sizes_mb'].items())}.

## Limits
Trained on the mock store only: it knows its products, shelves and figures, not a real store.
For real footage bring your own ultralytics model (`--model`, with a class-role mapping in the
config) or a pose model whose wrists become hands.
"""
