"""The mock-store sample recordings (sample_videos/): weight-only receipts equal the truth carts,
truth as vision is all confirmed, and corrupted vision events are each caught and labelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from formats.tables import read_events
from fusion.pipeline import fuse_recording

SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"
RECORDINGS = sorted(p for p in SAMPLES.glob("*") if (p / "truth" / "events.csv").is_file()) if SAMPLES.is_dir() else []
pytestmark = pytest.mark.skipif(not RECORDINGS, reason=f"no rendered sample recordings in {SAMPLES}")


def net(events) -> dict[str, int]:
    cart: dict[str, int] = {}
    for row in events.itertuples():
        cart[row.sku] = cart.get(row.sku, 0) + (row.quantity if row.action == "pick" else -row.quantity)
    return {k: v for k, v in cart.items() if v}


def summed(receipts: dict) -> dict[str, int]:
    cart: dict[str, int] = {}
    for part in [*receipts["shoppers"].values(), receipts["unattributed"]]:
        for sku, qty in part["items"].items():
            cart[sku] = cart.get(sku, 0) + qty
    return {k: v for k, v in cart.items() if v}


@pytest.mark.parametrize("recording", RECORDINGS, ids=[p.name for p in RECORDINGS])
def test_weight_only_receipt_equals_the_summed_truth_carts(recording):
    result = fuse_recording(recording)
    assert summed(result.receipts) == net(read_events(recording / "truth" / "events.csv"))


@pytest.mark.parametrize("recording", RECORDINGS, ids=[p.name for p in RECORDINGS])
def test_truth_as_vision_is_all_confirmed(recording):
    result = fuse_recording(recording, recording / "truth" / "events.csv")
    assert {line.status for line in result.lines} == {"confirmed"}


@pytest.mark.parametrize("recording", RECORDINGS, ids=[p.name for p in RECORDINGS])
def test_corrupted_vision_is_caught(recording):
    truth = read_events(recording / "truth" / "events.csv")
    pick = int(truth.index[truth.action == "pick"][0])
    wrong_qty = truth.copy()
    wrong_qty.loc[pick, "quantity"] += 1
    missing = truth.drop(pick).reset_index(drop=True)
    invented = truth.copy()
    invented.loc[len(invented)] = truth.loc[pick].copy()
    invented.loc[len(invented) - 1, "timestamp"] = truth["timestamp"].max() + 5.0
    for vision, status in ((wrong_qty, "corrected"), (missing, "unattributed"), (invented, "vision_only")):
        lines = fuse_recording(recording, vision).lines
        assert status in {line.status for line in lines}
