"""Hand-built recordings and prediction folders for the bench tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from formats.tables import read_events

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
T0 = 1_700_000_000.0  # camera start, Unix s
FPS = 10.0
HEADER = "timestamp,shopper,action,sku,quantity,shelf,plates"
PRED_HEADER = HEADER + ",camera,frame,confidence"


def write_events_csv(path: Path, rows: list[tuple], predicted: bool = False) -> Path:
    """rows: (t seconds after T0, shopper, action, sku, quantity[, camera, frame])."""
    lines = [PRED_HEADER if predicted else HEADER]
    for row in rows:
        t, shopper, action, sku, quantity, *rest = row
        line = f"{T0 + t!r},{shopper},{action},{sku},{quantity},A1,"
        if predicted:
            camera, frame = rest if rest else ("cam0", -1)
            line += f",{camera},{frame},0.9"
        lines.append(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def events(tmp_path: Path, rows: list[tuple], predicted: bool = False, name: str = "e.csv") -> pd.DataFrame:
    """A table as ``formats.tables.read_events`` returns it, from hand-written rows."""
    return read_events(write_events_csv(tmp_path / name, rows, predicted))


def write_mot(path: Path, rows: list[tuple]) -> Path:
    """rows: (frame 1-based, id, x, y, w, h)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{f},{i},{x},{y},{w},{h},1,-1,-1,-1\n" for f, i, x, y, w, h in rows))
    return path


def two_shopper_tracks(ids: tuple[int, int], frames: int = 20) -> list[tuple]:
    """Shopper ids[0] on the left, ids[1] on the right, both visible in frames 1..frames."""
    return [
        row
        for f in range(1, frames + 1)
        for row in ((f, ids[0], 10, 10, 50, 100), (f, ids[1], 300, 10, 50, 100))
    ]


def make_recording(
    root: Path,
    name: str,
    truth_rows: list[tuple] | None,
    pred_rows: list[tuple] | None,
    *,
    truth_tracks: list[tuple] | None = None,
    pred_tracks: list[tuple] | None = None,
    run_info: dict | None = None,
    receipts: dict | None = None,
) -> tuple[Path, Path]:
    """Write ROOT/recordings/NAME and ROOT/predictions/NAME; returns (recording, predictions dir)."""
    recording = root / "recordings" / name
    predictions = root / "predictions"
    (recording / "truth").mkdir(parents=True, exist_ok=True)
    store = {
        "version": 1,
        "name": name,
        "cameras": [
            {"id": "cam0", "video": "videos/cam0.mp4", "start_timestamp": T0, "fps": FPS, "zones": []}
        ],
    }
    (recording / "store.json").write_text(json.dumps(store))
    if truth_rows is not None:
        write_events_csv(recording / "truth" / "events.csv", truth_rows)
    if truth_tracks is not None:
        write_mot(recording / "truth" / "tracks" / "cam0.txt", truth_tracks)
    target = predictions / name
    target.mkdir(parents=True, exist_ok=True)
    if pred_rows is not None:
        write_events_csv(target / "events.csv", pred_rows, predicted=True)
    if pred_tracks is not None:
        write_mot(target / "tracks" / "cam0.txt", pred_tracks)
    if run_info is not None:
        (target / "run.json").write_text(json.dumps(run_info))
    if receipts is not None:
        (target / "receipts.json").write_text(json.dumps(receipts))
    return recording, predictions


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"reference data not found at {SHARED_DATA.resolve()} (../shared/data from the repo root)"
        )
    return SHARED_DATA
