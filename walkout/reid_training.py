"""Training data and fitting for the appearance embedding (:mod:`vision.embedding`).

Crops come from multi-camera mock-store renders' truth boxes (``truth/boxes/<camera>.csv``): a shopper's
box at least ``min_visible`` in view, overlapping no other shopper's box by more than ``max_overlap`` of
the smaller one, not cut by the image border, every ``stride``-th frame, each box moved and scaled at
random by up to ``jitter`` of its size (as a detector's box sits on a person). A person is one shopper
of one recording. The network learns to tell the people of the training recordings apart (softmax
over them, on scaled cosine scores); then only its embedding is kept.

The card's figures come from the people of the last ``validation`` recordings, never trained on: pairs of
10-crop stretches (the mean of ten consecutive crops of one person in one camera, as a track's look is
a mean), same person or not, scored by the embedding's cosine and by the colour histogram's Bhattacharyya
distance (vision.reid.describe, what the store join used before): ROC AUC within a camera and across
cameras.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from formats.store import parse_store
from formats.tables import read_truth_boxes
from vision.embedding import MODEL_FILE, Embedder, build_net, crops, save_embedder
from vision.reid import ReidConfig, bhattacharyya_rows, box_crowding, cut_by_border, describe
from walkout.recording import frames_at

log = logging.getLogger(__name__)

TRAINING_FIRST_SEED = 24000  # store renders for the appearance model: seeds 24000-24999, never held out
TRAINING_SIZE = 24


@dataclass(frozen=True)
class ReidTrainingConfig:
    """Crops (module docstring), then ``epochs`` of AdamW (``learning_rate``, batch ``batch``) on the
    network of vision.embedding (``dim``, ``widths``); ``validation``: recordings kept out for the card."""

    min_visible: float = 0.7
    max_overlap: float = 0.1
    stride: int = 1
    jitter: float = 0.06
    epochs: int = 10
    batch: int = 128
    learning_rate: float = 2e-3
    dim: int = 64
    widths: tuple[int, int, int] = (32, 64, 128)
    validation: int = 4
    seed: int = 0


@dataclass(frozen=True)
class Crops:
    images: np.ndarray  # (n, 64, 32, 3) uint8 BGR
    colours: np.ndarray  # (n, bins) the colour histogram of each box (vision.reid.describe)
    person: np.ndarray  # (n,) str: recording:shopper
    camera: np.ndarray  # (n,) str: recording:camera
    frame: np.ndarray  # (n,) int

    def __len__(self) -> int:
        return len(self.person)


def recording_crops(recording: Path, config: ReidTrainingConfig) -> Crops:
    """Every crop of one recording's placed cameras (module docstring)."""
    rng = np.random.default_rng([config.seed, zlib.crc32(recording.name.encode())])
    store = parse_store(recording / "store.json", recording)
    reid = ReidConfig()
    images, colours, person, camera, frames = [], [], [], [], []
    for cam in (c for c in store.cameras if c.placed):
        boxes = read_truth_boxes(recording / "truth" / "boxes" / f"{cam.id}.csv")
        boxes = boxes[boxes["object"] == "shopper"].reset_index(drop=True)
        if boxes.empty:
            continue
        xyxy = boxes[["x1", "y1", "x2", "y2"]].to_numpy(float)
        crowding = box_crowding(boxes["frame"].to_numpy(int), xyxy)
        cut = cut_by_border(xyxy, cam.calibration.image_size_px)
        keep = ((boxes["visible"].to_numpy(float) >= config.min_visible) & (crowding <= config.max_overlap) & ~cut
                & (boxes["frame"].to_numpy(int) % config.stride == 0))
        if not keep.any():
            continue
        chosen = boxes[keep]
        size = np.repeat(xyxy[keep, 2:] - xyxy[keep, :2], 2, axis=0).reshape(-1, 4)
        moved = xyxy[keep] + rng.uniform(-config.jitter, config.jitter, size=(int(keep.sum()), 4)) * size
        by_frame = {int(f): rows for f, rows in pd.Series(np.arange(len(chosen))).groupby(chosen["frame"].to_numpy()).groups.items()}
        for index, image in frames_at(cam.video, by_frame):
            rows = np.asarray(by_frame[index], dtype=int)
            images.append(crops(image, moved[rows]))
            colours.append(describe(image, xyxy[keep][rows], reid))
            person.extend(f"{recording.name}:{int(s)}" for s in chosen["track_id"].to_numpy()[rows])
            camera.extend([f"{recording.name}:{cam.id}"] * len(rows))
            frames.extend([index] * len(rows))
    bins = reid.hue_bins * reid.saturation_bins
    return Crops(np.concatenate(images) if images else np.zeros((0, 64, 32, 3), np.uint8),
                 np.concatenate(colours) if colours else np.zeros((0, bins), np.float32),
                 np.array(person, dtype=str), np.array(camera, dtype=str), np.array(frames, dtype=int))


def stretch_aucs(embeddings: np.ndarray, data: Crops, length: int = 10) -> dict[str, float]:
    """ROC AUC of same-person-or-not over pairs of ``length``-crop stretches (module docstring), within
    one camera and across cameras of one recording, for the embedding and the colour histogram."""
    from sklearn.metrics import roc_auc_score

    stretches = []  # (recording, camera, person, unit mean embedding, mean colours)
    key = np.char.add(np.char.add(data.camera, "|"), data.person)
    for k in np.unique(key):
        rows = np.flatnonzero(key == k)
        rows = rows[np.argsort(data.frame[rows])]
        for s in range(0, len(rows) - length + 1, length):
            r = rows[s:s + length]
            e = embeddings[r].mean(axis=0)
            stretches.append((data.camera[r[0]].split(":")[0], data.camera[r[0]], data.person[r[0]],
                              e / max(np.linalg.norm(e), 1e-9), data.colours[r].mean(axis=0)))
    out = {}
    for name, same_camera in (("same_camera", True), ("across_cameras", False)):
        label, cosine, colour = [], [], []
        for i, a in enumerate(stretches):
            for b in stretches[i + 1:]:
                if a[0] != b[0] or (a[1] == b[1]) != same_camera:
                    continue
                label.append(a[2] == b[2])
                cosine.append(float(a[3] @ b[3]))
                colour.append(-float(bhattacharyya_rows(a[4], b[4])))
        if len(set(label)) == 2:
            out[f"{name}_pairs"] = len(label)
            out[f"{name}_auc_embedding"] = round(float(roc_auc_score(label, cosine)), 4)
            out[f"{name}_auc_colours"] = round(float(roc_auc_score(label, colour)), 4)
    return out


def fit_embedding(train: Crops, config: ReidTrainingConfig):
    """The network and the crops' per-channel mean and spread, trained on ``train`` (module docstring)."""
    import torch
    from torch.nn import functional

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    people, label = np.unique(train.person, return_inverse=True)
    x = torch.from_numpy(train.images.transpose(0, 3, 1, 2).copy()).float() / 255.0
    mean, std = x.mean((0, 2, 3)), x.std((0, 2, 3)).clamp_min(1e-3)
    x = (x - mean[None, :, None, None]) / std[None, :, None, None]
    y = torch.from_numpy(label)
    net = build_net(len(people), config.dim, config.widths)
    optimiser = torch.optim.AdamW(net.parameters(), config.learning_rate, weight_decay=1e-4)
    steps = config.epochs * ((len(y) + config.batch - 1) // config.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.learning_rate, total_steps=max(steps, 1))
    start = time.monotonic()
    for epoch in range(config.epochs):
        net.train()
        order = torch.from_numpy(rng.permutation(len(y)))
        total = 0.0
        for b in range(0, len(order), config.batch):
            rows = order[b:b + config.batch]
            xb = x[rows]
            if rng.random() < 0.5:
                xb = xb.flip(3)
            xb = xb * float(rng.uniform(0.9, 1.1)) + float(rng.uniform(-0.1, 0.1))  # lighting
            loss = functional.cross_entropy(net(xb), y[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(rows)
        log.info("reid epoch %d/%d: loss %.3f (%.0f s)", epoch + 1, config.epochs, total / len(y), time.monotonic() - start)
    net.eval()
    return net, mean.numpy(), std.numpy()


def train_reid(recordings: list[Path], out_dir: Path, config: ReidTrainingConfig | None = None) -> dict:
    """Fit the appearance model on ``recordings`` (the last ``config.validation`` kept out for the card's
    figures), write ``walkout-reid.pt`` into ``out_dir`` atomically; returns the card (figures)."""
    config = config or ReidTrainingConfig()
    recordings = sorted(recordings)
    if len(recordings) <= config.validation:
        raise ValueError(f"{len(recordings)} recordings: the appearance model needs more than {config.validation} "
                         "(the last ones are kept out for its figures)")
    parts = {r: recording_crops(r, config) for r in recordings}

    def pooled(paths: list[Path]) -> Crops:
        chosen = [parts[p] for p in paths if len(parts[p])]
        if not chosen:
            raise ValueError(f"no clear shopper boxes in {', '.join(p.name for p in paths)}: nothing to fit")
        return Crops(*(np.concatenate([getattr(c, f) for c in chosen]) for f in Crops.__dataclass_fields__))

    fit_on, check_on = pooled(recordings[:-config.validation]), pooled(recordings[-config.validation:])
    start = time.monotonic()
    net, mean, std = fit_embedding(fit_on, config)
    embedder = Embedder(net, mean.astype(np.float32), std.astype(np.float32), config.dim)
    check = np.concatenate([embedder.embed_crops(check_on.images[b:b + 512]) for b in range(0, len(check_on), 512)])
    card = {"recordings": [r.name for r in recordings[:-config.validation]],
            "validation_recordings": [r.name for r in recordings[-config.validation:]],
            "crops": len(fit_on), "people": int(len(np.unique(fit_on.person))),
            "validation_crops": len(check_on), "validation_people": int(len(np.unique(check_on.person))),
            "training_s": round(time.monotonic() - start), "config": asdict(config),
            **stretch_aucs(check, check_on)}
    save_embedder(out_dir / MODEL_FILE, net, mean, std, config.dim, config.widths, card)
    log.info("appearance model -> %s; model card section:\n%s", out_dir / MODEL_FILE, card_section(card))
    return card


def card_section(card: dict) -> str:
    """models/README.md's section for the model, from its card."""
    def auc(name: str) -> str:
        return f"{card.get(name + '_auc_embedding', float('nan')):.3f} (colours {card.get(name + '_auc_colours', float('nan')):.3f})"

    seeds = f"{card['recordings'][0]}-{card['recordings'][-1]}" if card["recordings"] else "none"
    return (f"- Data: crops of truth shopper boxes of {len(card['recordings'])} store renders ({seeds}): "
            f"{card['crops']} crops of {card['people']} people (min visible {card['config']['min_visible']}, "
            f"overlap <= {card['config']['max_overlap']}, box jitter {card['config']['jitter']}).\n"
            f"- Training: {card['config']['epochs']} epochs, AdamW one-cycle lr {card['config']['learning_rate']}, "
            f"batch {card['config']['batch']}, {card['training_s']} s on CPU.\n"
            f"- Held out: the {card['validation_people']} people of {', '.join(card['validation_recordings'])} "
            f"({card['validation_crops']} crops), pairs of 10-crop stretches, same person or not, ROC AUC: "
            f"within a camera {auc('same_camera')}, across cameras {auc('across_cameras')}.")


def train_from_renders(out_dir: Path, work: Path, size: int = TRAINING_SIZE, runs: list[Path] | None = None) -> dict:
    """``walkout train --only reid``: render ``size`` store recordings (seeds from ``TRAINING_FIRST_SEED``)
    and fit the model into ``out_dir``; with ``runs``, use the store recordings under those folders."""
    from walkout.bench.groups import render, store_options

    if runs is None:
        folder = work / "reid" / "recordings"
        recordings = []
        for seed in range(TRAINING_FIRST_SEED, TRAINING_FIRST_SEED + size):
            count, extra = store_options(seed)
            recordings.append(render(folder, seed, count, ["--layout", "store", *extra], 60.0))
    else:
        recordings = [p.parent for root in runs for p in sorted(Path(root).rglob("store.json"))
                      if (p.parent / "truth" / "boxes").is_dir()]
    return train_reid(recordings, out_dir)
