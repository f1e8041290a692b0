"""receipts.json and discrepancies.csv: fusion's receipt lines, their schema, writer and reader.

receipts.json (version 1)::

    {"version": 1, "recording": name,
     "shoppers": {"<shopper id>": {"items": {"<sku>": qty}, "lines": [line, ...]}},
     "unattributed": {"items": {...}, "lines": [...]}}

Each line is :meth:`ReceiptLine.to_dict`. ``items`` is the net cart (picks minus returns, zero
entries dropped) over the lines that count (:attr:`ReceiptLine.counts`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from formats.errors import FormatError
from formats.tables import write_csv_atomic, write_json_atomic

RECEIPTS_VERSION = 1
STATUSES = ("confirmed", "corrected", "reached", "vision_only", "unverified", "unattributed", "review")
DISCREPANCY_COLUMNS = (
    "shopper", "status", "action", "sku", "quantity", "timestamp", "shelf", "plates", "delta_g",
    "weight_event", "vision_sku", "vision_quantity", "probability", "camera", "first_frame", "last_frame", "reason",
)


@dataclass(frozen=True)
class ReceiptLine:
    """One line of a verified receipt.

    status: ``confirmed`` (vision and weight agree), ``corrected`` (weight says another product or
        quantity; sku/quantity are the weight's), ``vision_only`` (no weight change: a false pick,
        or a shelf without sensors), ``unverified`` (a weight change nothing in the catalog explains;
        vision's claim kept), ``reached`` (a weight change vision saw no event for, given to the shopper
        seen there then: their hand in the shelf's zone or their body in front of its plates, or the
        only one holding a returned product; sku/quantity are the weight's), ``unattributed`` (a weight
        change no shopper was seen causing), ``review`` (the attribution model's probability that
        ``shopper`` made the change is below the review threshold: a person should look at the
        frames in ``look_at``; the line still counts, with the model's best guess).
    sku: the product ('' when nothing fits); quantity: items (>= 1); action: pick | return.
    timestamp: Unix s, when the weight began to change (vision's time for a line without a weight event;
        for a shopper's share of a change made in steps, when their step happened);
    delta_g: the weight event's change (None without one).
    vision: the vision event as a dict (None without one); weight_event: its id (None without one).
    counted: whether the line counts toward the cart (False for a likely false pick).
    probability: the probability that this line is right, that ``shopper`` made this change (the
        attribution model's take probability calibrated on bench-scored lines, fusion.confidence; the take
        probability itself without a confidence model; None when no shopper decision was made: no weight
        event, or nobody to give it to, or no attribution model).
    candidates: every candidate shopper of the take with the attribution model's probability that they
        made it (these sum to 1; ``shopper`` is one of them), as ``(shopper, probability)`` pairs.
    evidence: the model's top evidence for that shopper, ``{"feature", "value", "contribution"}``
        dicts (contribution: the feature's share of the log-odds), strongest first.
    look_at: where a reviewer looks: ``(camera, first frame, last frame)`` spans, empty when unknown.
    """

    status: str
    sku: str
    quantity: int
    action: str
    timestamp: float
    shelf: str
    plates: tuple[int, ...]
    delta_g: float | None
    vision: dict | None
    weight_event: str | None
    reason: str
    shopper: str | None = None
    counted: bool = True
    probability: float | None = None
    candidates: tuple[tuple[str, float], ...] = ()
    evidence: tuple[dict, ...] = ()
    look_at: tuple[tuple[str, int, int], ...] = ()

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "sku": self.sku,
            "quantity": self.quantity,
            "action": self.action,
            "timestamp": round(self.timestamp, 3),
            "shelf": self.shelf,
            "plates": list(self.plates),
            "delta_g": None if self.delta_g is None else round(self.delta_g, 3),
            "vision": self.vision,
            "weight_event": self.weight_event,
            "reason": self.reason,
            "counted": self.counted,
            "probability": None if self.probability is None else round(self.probability, 4),
            "candidates": {name: round(p, 4) for name, p in self.candidates},
            "evidence": [dict(item) for item in self.evidence],
            "look_at": [list(span) for span in self.look_at],
        }

    @classmethod
    def from_dict(cls, data: dict, shopper: str | None = None) -> ReceiptLine:
        return cls(
            status=str(data["status"]),
            sku=str(data["sku"]),
            quantity=int(data["quantity"]),
            action=str(data["action"]),
            timestamp=float(data["timestamp"]),
            shelf=str(data["shelf"]),
            plates=tuple(int(p) for p in data.get("plates", [])),
            delta_g=None if data.get("delta_g") is None else float(data["delta_g"]),
            vision=data.get("vision"),
            weight_event=data.get("weight_event"),
            reason=str(data.get("reason", "")),
            shopper=shopper,
            counted=bool(data.get("counted", True)),
            probability=None if data.get("probability") is None else float(data["probability"]),
            candidates=tuple((str(name), float(p)) for name, p in (data.get("candidates") or {}).items()),
            evidence=tuple(dict(item) for item in data.get("evidence", ())),
            look_at=tuple((str(c), int(a), int(b)) for c, a, b in data.get("look_at", ())),
        )


def net_items(lines: list[ReceiptLine]) -> dict[str, int]:
    """Net cart {sku: picks - returns} over counted lines with a known sku; zero entries dropped."""
    items: dict[str, int] = {}
    for line in lines:
        if not line.counted or not line.sku:
            continue
        sign = 1 if line.action == "pick" else -1
        items[line.sku] = items.get(line.sku, 0) + sign * line.quantity
    return {sku: qty for sku, qty in sorted(items.items()) if qty != 0}


def build_receipts(lines: list[ReceiptLine], recording: str) -> dict:
    """The receipts.json payload: shoppers (by id) and the unattributed part, lines in time order."""
    shoppers: dict[str, list[ReceiptLine]] = {}
    unattributed: list[ReceiptLine] = []
    for line in sorted(lines, key=lambda x: (x.timestamp, x.shelf, x.sku)):
        if line.shopper is None:
            unattributed.append(line)
        else:
            shoppers.setdefault(line.shopper, []).append(line)
    return {
        "version": RECEIPTS_VERSION,
        "recording": recording,
        "shoppers": {
            shopper: {"items": net_items(own), "lines": [x.to_dict() for x in own]}
            for shopper, own in sorted(shoppers.items())
        },
        "unattributed": {"items": net_items(unattributed), "lines": [x.to_dict() for x in unattributed]},
    }


def _check_block(path: Path, block: object, where: str) -> None:
    if not isinstance(block, dict):
        raise FormatError(path, "must be an object with 'items' and 'lines'", field=where)
    items = block.get("items", {})
    if not isinstance(items, dict):
        raise FormatError(path, "'items' must be an object {sku: quantity}", field=f"{where}.items")
    for sku, qty in items.items():
        if isinstance(qty, bool) or not isinstance(qty, int | float) or qty != int(qty):
            raise FormatError(path, f"quantity of sku {sku} is not an integer: {qty!r}", field=f"{where}.items")
    lines = block.get("lines", [])
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise FormatError(path, "'lines' must be a list of objects", field=f"{where}.lines")


def read_receipts(path: str | Path) -> dict:
    """Load receipts.json: checks the version and the shape of every shopper's block (``items`` an
    object of integer quantities, ``lines`` a list of objects); lines stay dicts. FormatError naming
    the file and the field otherwise."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FormatError(path, f"not readable JSON: {exc}") from None
    if not isinstance(payload, dict) or payload.get("version") != RECEIPTS_VERSION:
        got = payload.get("version") if isinstance(payload, dict) else None
        raise FormatError(path, f"version must be {RECEIPTS_VERSION}, got {got!r}", field="version")
    shoppers = payload.setdefault("shoppers", {})
    if not isinstance(shoppers, dict):
        raise FormatError(path, "must be an object {shopper id: {items, lines}}", field="shoppers")
    for shopper, block in shoppers.items():
        _check_block(path, block, f"shoppers.{shopper}")
    if payload.get("unattributed") is None:
        payload["unattributed"] = {"items": {}, "lines": []}
    _check_block(path, payload["unattributed"], "unattributed")
    return payload


def receipt_lines(payload: dict) -> list[ReceiptLine]:
    """Every line of a receipts.json payload (from :func:`read_receipts`), shoppers' and unattributed."""
    lines = [ReceiptLine.from_dict(line, str(shopper))
             for shopper, block in payload["shoppers"].items() for line in block.get("lines", [])]
    return lines + [ReceiptLine.from_dict(line) for line in payload["unattributed"].get("lines", [])]


def discrepancies_frame(lines: list[ReceiptLine]) -> pd.DataFrame:
    """Every non-confirmed line with its reason (discrepancies.csv), in time order."""
    rows = [
        {
            "shopper": "" if line.shopper is None else line.shopper,
            "status": line.status,
            "action": line.action,
            "sku": line.sku,
            "quantity": line.quantity,
            "timestamp": round(line.timestamp, 3),
            "shelf": line.shelf,
            "plates": ";".join(str(p) for p in line.plates),
            "delta_g": "" if line.delta_g is None else round(line.delta_g, 3),
            "weight_event": line.weight_event or "",
            "vision_sku": "" if line.vision is None else line.vision["sku"],
            "vision_quantity": "" if line.vision is None else line.vision["quantity"],
            "probability": "" if line.probability is None else round(line.probability, 4),
            "camera": ";".join(c for c, _, _ in line.look_at),
            "first_frame": ";".join(str(a) for _, a, _ in line.look_at),
            "last_frame": ";".join(str(b) for _, _, b in line.look_at),
            "reason": line.reason,
        }
        for line in sorted(lines, key=lambda x: (x.timestamp, x.shelf, x.sku))
        if line.status != "confirmed"
    ]
    return pd.DataFrame(rows, columns=list(DISCREPANCY_COLUMNS))


def write_receipts(lines: list[ReceiptLine], recording: str, out: str | Path) -> dict[str, Path]:
    """Write receipts.json and discrepancies.csv atomically into ``out``; returns their paths."""
    out = Path(out)
    return {
        "receipts": write_json_atomic(build_receipts(lines, recording), out / "receipts.json"),
        "discrepancies": write_csv_atomic(discrepancies_frame(lines), out / "discrepancies.csv"),
    }
