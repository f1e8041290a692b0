"""A small hand-made store recording, written fresh for each test that asks for it."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write_video(path: Path, frames: int = 5, size: tuple[int, int] = (64, 48), fps: float = 10.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 20 * i, dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    root = tmp_path / "rec one"  # a space in the path on purpose
    root.mkdir()
    (root / "store.json").write_text(json.dumps({
        "version": 1,
        "name": "tiny",
        "cameras": [{
            "id": "cam0",
            "video": "videos/cam0.mp4",
            "start_timestamp": 1700000000.0,
            "zones": [{"shelf": "A1", "plates": [1, 2], "polygon": [[1, 1], [30, 1], [30, 20], [1, 20]]}],
        }],
    }))
    (root / "catalog.csv").write_text("sku,name,weight_g\n0001,Tea,250\n0002,Jam,340.5\n")
    (root / "planogram.csv").write_text("shelf,plate,sku\nA1,1,0001\nA1,2,0002\n")
    (root / "weights.csv").write_text(
        "timestamp,shelf,plate,grams\n"
        + "".join(f"{1700000000 + i / 60:.4f},A1,{p},{900 + 250 * (p == 1):.1f}\n" for i in range(120) for p in (1, 2))
    )
    (root / "truth").mkdir()
    (root / "truth" / "events.csv").write_text(
        "timestamp,shopper,action,sku,quantity,shelf,plates\n1700000001.0,1,pick,0001,1,A1,1\n"
    )
    write_video(root / "videos" / "cam0.mp4")
    return root
