"""A learnt appearance embedding of a shopper's box (``models/walkout-reid.pt``), for telling shoppers apart
across cameras.

A small convolutional network (:class:`AppearanceNet`) turns a 64 x 32 crop of a shopper's box into a
64-number unit vector; two boxes of one person point the same way, two people's apart. It was trained by
``walkout train --only reid`` (walkout/reid_training.py) on crops of mock-store renders' truth boxes, as
a classifier over the people of its training stores (softmax on scaled cosine scores); only the embedding
is kept. A track's look (:func:`track_embedding`) is the mean of its clear boxes' embeddings, made unit
again; :func:`embedding_distance` is (1 - cosine) / 2: 0 alike .. 1 opposite, on the scale of the
colour histograms' Bhattacharyya distance it replaces in the store join (vision.shoppers).

Embeddings describe a person's appearance: they live in memory during a run and are never written
(PRIVACY.md), like the colour histograms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.errors import InputError

CROP_HEIGHT, CROP_WIDTH = 64, 32
FORMAT_VERSION = 1
MODEL_FILE = "walkout-reid.pt"
DEFAULT_EMBEDDING = Path(__file__).resolve().parent.parent / "models" / MODEL_FILE


def build_net(identities: int, dim: int = 64, widths: tuple[int, int, int] = (32, 64, 128)):
    """The network: three blocks of two 3x3 convolutions (batch norm, ReLU) and a 2x2 max pool, global
    average pooling, a linear embedding of ``dim`` made unit length; ``classify`` scores it against
    ``identities`` people (training only)."""
    import torch
    from torch import nn
    from torch.nn import functional

    def block(inputs: int, outputs: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1), nn.BatchNorm2d(outputs), nn.ReLU(),
                             nn.Conv2d(outputs, outputs, 3, padding=1), nn.BatchNorm2d(outputs), nn.ReLU(),
                             nn.MaxPool2d(2))

    class AppearanceNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(block(3, widths[0]), block(widths[0], widths[1]), block(widths[1], widths[2]))
            self.embedding = nn.Linear(widths[2], dim)
            self.classify = nn.Linear(dim, max(identities, 1), bias=False)

        def embed(self, x: torch.Tensor) -> torch.Tensor:
            return functional.normalize(self.embedding(self.features(x).mean((2, 3))), dim=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classify(self.embed(x)) * 16.0

    return AppearanceNet()


def crops(frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """(n, 64, 32, 3) uint8 crops of ``frame`` (BGR) inside each box (clipped to the image; an empty
    box gives a black crop)."""
    out = np.zeros((len(xyxy), CROP_HEIGHT, CROP_WIDTH, 3), dtype=np.uint8)
    height, width = frame.shape[:2]
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(xyxy, dtype=float)):
        ax, ay = int(np.clip(np.floor(x1), 0, width)), int(np.clip(np.floor(y1), 0, height))
        bx, by = int(np.clip(np.ceil(x2), 0, width)), int(np.clip(np.ceil(y2), 0, height))
        if bx - ax >= 2 and by - ay >= 2:
            out[i] = cv2.resize(frame[ay:by, ax:bx], (CROP_WIDTH, CROP_HEIGHT), interpolation=cv2.INTER_AREA)
    return out


@dataclass(frozen=True)
class Embedder:
    """A loaded appearance model: ``embed(frame, xyxy)`` -> (n, dim) float32 unit vectors."""

    net: object
    mean: np.ndarray  # (3,) per-channel mean of the training crops, BGR, 0..1
    std: np.ndarray
    dim: int

    def embed_crops(self, images: np.ndarray) -> np.ndarray:
        import torch

        if not len(images):
            return np.zeros((0, self.dim), dtype=np.float32)
        x = (images.astype(np.float32) / 255.0 - self.mean) / self.std
        with torch.inference_mode():
            return self.net.embed(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()

    def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        return self.embed_crops(crops(frame, xyxy))


def save_embedder(path: Path, net, mean: np.ndarray, std: np.ndarray, dim: int, widths: tuple[int, int, int],
                  card: dict) -> None:
    """Write the model (weights without the training classifier, normalisation, card) atomically."""
    import torch

    state = {k: v for k, v in net.state_dict().items() if not k.startswith("classify.")}
    payload = {"format": "walkout-reid", "version": FORMAT_VERSION, "dim": dim, "widths": list(widths),
               "mean": [float(v) for v in mean], "std": [float(v) for v in std], "state_dict": state,
               "card": card}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_embedder(path: Path) -> Embedder:
    """Load ``path`` (made by ``walkout train --only reid``); a clear error when it is missing or of
    another format or version."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no appearance model (make one with `walkout train --only reid`, or set [shoppers] "
                         "look = \"colours\" with an association model fitted on colours)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise InputError(path, f"not a walkout appearance model ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != "walkout-reid":
        raise InputError(path, "format: not a walkout appearance model")
    if payload.get("version") != FORMAT_VERSION:
        raise InputError(path, f"version: {payload.get('version')!r}, this walkout reads {FORMAT_VERSION} "
                         "(train it again with `walkout train --only reid`)")
    net = build_net(1, int(payload["dim"]), tuple(payload["widths"]))
    missing, unexpected = net.load_state_dict(payload["state_dict"], strict=False)
    if unexpected or [k for k in missing if not k.startswith("classify.")]:
        raise InputError(path, f"state_dict: does not fit the network (missing {missing}, unexpected {unexpected})")
    net.eval()
    return Embedder(net, np.asarray(payload["mean"], np.float32), np.asarray(payload["std"], np.float32),
                    int(payload["dim"]))


def sample_every(fps: float, sample_s: float) -> int:
    """Frames between two frames whose boxes are embedded (at least 1)."""
    return max(1, int(round(sample_s * fps)))


def track_embeddings(frames: np.ndarray, ids: np.ndarray, xyxy: np.ndarray,
                     embeddings: np.ndarray) -> dict[int, np.ndarray | None]:
    """Each track's look: the unit mean of its boxes' embeddings (rows of ``embeddings``; all-zero rows
    were not embedded), weighted towards boxes that overlap no other box of their frame (as
    vision.reid.track_looks weighs colours). In memory only; never written."""
    from vision.reid import box_crowding, clear_weight

    ids = np.asarray(ids, int)
    weight = clear_weight(box_crowding(frames, xyxy))
    return {int(track): track_embedding(rows, embeddings, weight[rows])
            for track in np.unique(ids) for rows in [np.flatnonzero(ids == track)]}


def track_embedding(rows: np.ndarray, embeddings: np.ndarray, weight: np.ndarray) -> np.ndarray | None:
    """The unit mean of ``embeddings[rows]`` weighted by ``weight`` (rows with no embedding, all zeros,
    count nothing); None when no row has one."""
    vectors = embeddings[rows]
    w = weight * (np.abs(vectors).sum(axis=1) > 0)
    if not w.sum():
        return None
    mean = (vectors * w[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None


def embedding_distance(a: np.ndarray, b: np.ndarray) -> float:
    """(1 - cosine) / 2 of two unit vectors: 0 alike .. 1 opposite."""
    return float(np.clip((1.0 - float(np.dot(a, b))) / 2.0, 0.0, 1.0))
