"""A tiny rendered store recording and a real pipeline run of it, for the privacy tests.

Two shoppers, each picks one product (320x180 px, 10 fps, 9 s, rendered by the mock store in the
test). The pipeline runs for real (tracking, identity repair with its colour descriptors, hands,
events, reaches, writers, manifest) on detections read from the render's truth boxes
(:class:`TruthModels`): no trained model is needed, and every stage sees real shopper boxes.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import supervision as sv

from vision.detector import ROLE_HAND, ROLE_PRODUCT, ROLE_SHOPPER, empty_detections
from walkout.cli import main

ROOT = Path(__file__).resolve().parents[2]
PLANOGRAM = "\n".join(
    f'  - {{shelf: {shelf}, plate: {plate}, sku: "{sku}"}}'
    for shelf, plate, sku in (
        ("B1", 1, "012008"), ("B1", 2, "012008"), ("B1", 3, "012003"), ("B1", 4, "012007"),
        ("B2", 1, "012001"), ("B2", 2, "012002"), ("B2", 3, "012009"), ("B2", 4, "012006"),
        ("B3", 1, "012004"), ("B3", 2, "012005"), ("B3", 3, "012010"), ("B3", 4, "012010"),
        ("A1", 1, "012003"), ("A1", 2, "012007"), ("A1", 3, "012007"), ("A1", 4, "012008"),
        ("A2", 1, "012002"), ("A2", 2, "012001"), ("A2", 3, "012006"), ("A2", 4, "012009"),
        ("A3", 1, "012005"), ("A3", 2, "012004"), ("A3", 3, "012004"), ("A3", 4, "012010"),
    )
)
SCENARIO = f"""name: tiny_two
seed: 5
duration_s: 9
fps: 10
width: 320
height: 180
store: {{aisle_length_m: 2.4, aisle_width_m: 1.8, levels: 3, plates_per_shelf: 4}}
cameras: 1
planogram:
{PLANOGRAM}
shoppers:
  - id: 1
    script:
      - {{action: enter, at_s: 0.0, side: left}}
      - {{action: pick, shelf: B2, plate: 1, sku: "012001"}}
      - {{action: leave, side: right}}
  - id: 2
    script:
      - {{action: enter, at_s: 0.5, side: right}}
      - {{action: pick, shelf: B3, plate: 4, sku: "012010"}}
      - {{action: leave, side: left}}
"""


def render_tiny(folder: Path) -> Path:
    """Render the two-shopper recording into ``folder/tiny`` (about 5 s); returns its path."""
    scenario = folder / "tiny.yaml"
    scenario.write_text(SCENARIO)
    recording = folder / "tiny"
    assert main(["-q", "simulate", str(recording), "--scenario", str(scenario)]) == 0
    return recording


class TruthDetector:
    """Detections per frame from a render's truth boxes: shoppers, hands and products in hands."""

    ROLES = {"shopper": ROLE_SHOPPER, "hand": ROLE_HAND, "product_in_hand": ROLE_PRODUCT}

    def __init__(self, boxes_csv: Path, min_visible: float = 0.35):
        boxes = pd.read_csv(boxes_csv, dtype={"sku": str}, keep_default_na=False)
        boxes = boxes[boxes["object"].isin(list(self.ROLES)) & (boxes["visible"] >= min_visible)]
        self.by_frame = {int(f): g for f, g in boxes.groupby("frame")}
        self.next_frame = 0

    def reset(self) -> None:
        self.next_frame = 0

    def detect(self, frames: list[np.ndarray]) -> list[sv.Detections]:
        out = []
        for _ in frames:
            rows = self.by_frame.get(self.next_frame)
            self.next_frame += 1
            if rows is None or rows.empty:
                out.append(empty_detections())
                continue
            products = (rows["object"] == "product_in_hand").to_numpy()
            out.append(sv.Detections(
                xyxy=rows[["x1", "y1", "x2", "y2"]].to_numpy(float),
                confidence=np.full(len(rows), 0.9),
                class_id=np.zeros(len(rows), dtype=int),
                data={"role": rows["object"].map(self.ROLES).to_numpy(int),
                      "sku": np.where(products, rows["sku"].to_numpy(str), "").astype(str),
                      "person": np.full(len(rows), -1, dtype=int)},
            ))
        return out


class TruthModels:
    """Models-like: the truth detector; held items from product boxes near hands (no classifier)."""

    def __init__(self, config, boxes_csv: Path):
        self.detector = TruthDetector(boxes_csv)
        self.classifier = None
        self.hand_detector = None
        self.held_from_reaches = False
        self.held_items = False
        self.reaching = None
        self.embedder = None


def truth_models(recording: Path):
    """A ``load_models`` for ``run_batch`` (in this process: workers=1)."""
    return functools.partial(TruthModels, boxes_csv=recording / "truth" / "boxes" / "cam0.csv")


def output_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``: {relative path: bytes}."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
