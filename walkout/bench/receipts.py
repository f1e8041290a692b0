"""Receipt scoring: final carts (picks minus returns, per sku, in units) against the truth.

Per shopper: the truth cart of each truth shopper is compared with the cart of the predicted
shoppers mapped to that truth id (several fragments of one shopper add up). Unit counts per sku:
``matched = min(truth, predicted)``, ``false_pos = predicted - matched``, ``missed = truth - matched``
(multiset precision / recall / F1). A cart is exact when nothing is extra or missing.
Receipt accuracy = exact truth shoppers / truth shoppers (1.0 when there are no truth shoppers).
Truth shoppers are those in truth/events.csv plus, when given, those seen in truth tracks (a
shopper who took nothing must get an empty cart). Predicted carts mapped to no truth shopper count
their units as false positives in the summed unit counts (row ``shopper`` = ``pred:<id>``).

Store level ("weight only"): the multiset of skus taken from the store, net of returns, over
everybody (all shoppers plus unattributed lines of receipts.json) against the truth.

A net negative quantity (more returned than picked by one shopper) is clipped to 0 with a debug log:
a cart cannot hold fewer than zero items.

receipts.json (schema and reader: :mod:`formats.receipts`): carts are scored from ``items``; ``lines`` are
read as the fused timeline (:func:`receipt_events`), scored as events and for the attribution
probability's calibration (:mod:`walkout.bench.calibration`).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from formats.errors import FormatError
from formats.receipts import read_receipts as read_receipts_file
from formats.tables import EVENT_COLUMNS, PREDICTED_EXTRA_COLUMNS
from walkout.bench.counts import Counts

log = logging.getLogger(__name__)

Cart = Counter  # sku (str) -> units (int > 0)
UNMAPPED_PREFIX = "pred:"
LINE_COLUMNS = ("probability", "status")  # receipt_events' columns beyond an events table's


def _clip(cart: Counter) -> Cart:
    negative = {sku: n for sku, n in cart.items() if n < 0}
    if negative:
        log.debug("net negative quantities clipped to 0: %s", negative)
    return Counter({sku: int(n) for sku, n in cart.items() if n > 0})


def net_carts(events: pd.DataFrame, shopper_column: str = "shopper") -> dict[str, Cart]:
    """Events -> {shopper: cart}; picks add and returns subtract ``quantity`` units per sku."""
    if events.empty:
        return {}
    signed = events["quantity"].where(events["action"] == "pick", -events["quantity"])
    totals = signed.groupby([events[shopper_column].astype(str), events["sku"].astype(str)]).sum()
    carts: dict[str, Counter] = {}
    for (shopper, sku), units in totals.items():
        carts.setdefault(shopper, Counter())[sku] += int(units)
    return {shopper: _clip(cart) for shopper, cart in carts.items()}


def store_cart(events: pd.DataFrame) -> Cart:
    """Everything taken from the store, net of returns (shoppers ignored)."""
    if events.empty:
        return Counter()
    signed = events["quantity"].where(events["action"] == "pick", -events["quantity"])
    return _clip(
        Counter({str(k): int(v) for k, v in signed.groupby(events["sku"].astype(str)).sum().items()})
    )


def compare_carts(truth: Mapping[str, int], predicted: Mapping[str, int]) -> Counts:
    """Unit counts of one cart (multiset intersection, extras, misses)."""
    skus = set(truth) | set(predicted)
    matched = sum(min(truth.get(s, 0), predicted.get(s, 0)) for s in skus)
    return Counts(matched, sum(predicted.values()) - matched, sum(truth.values()) - matched)


@dataclass(frozen=True)
class CartScore:
    """Per-shopper receipt counts: truth shoppers, those with an exact cart, and unit counts.

    split: truth shoppers whose items came on several predicted receipts (lost and re-found under a
    new id, or two ids mixed up between shoppers: a store would hand them two receipts). Their carts
    are scored merged for ``exact``; ``exact_unsplit`` counts only the exact carts that came on one
    receipt (a split shopper's receipt is wrong, whatever the merged cart).
    """

    shoppers: int = 0
    exact: int = 0
    units: Counts = Counts()
    split: int = 0
    exact_unsplit: int | None = None  # None: not scored (carts from events, or no split check)

    def __add__(self, other: CartScore) -> CartScore:
        unsplit = (None if self.exact_unsplit is None and other.exact_unsplit is None
                   else (self.exact_unsplit if self.exact_unsplit is not None else self.exact)
                   + (other.exact_unsplit if other.exact_unsplit is not None else other.exact))
        return CartScore(self.shoppers + other.shoppers, self.exact + other.exact, self.units + other.units,
                         self.split + other.split, unsplit)

    @property
    def receipt_accuracy(self) -> float:
        return self.exact / self.shoppers if self.shoppers else 1.0

    @property
    def unsplit_receipt_accuracy(self) -> float | None:
        """Share of truth shoppers with an exact cart on one receipt; None when not scored."""
        if self.exact_unsplit is None:
            return None
        return self.exact_unsplit / self.shoppers if self.shoppers else 1.0

    @property
    def split_share(self) -> float:
        return self.split / self.shoppers if self.shoppers else 0.0

    def to_dict(self) -> dict:
        return {
            "shoppers": self.shoppers,
            "exact": self.exact,
            "receipt_accuracy": self.receipt_accuracy,
            "split": self.split,
            "exact_unsplit": self.exact_unsplit,
            "units": self.units.to_dict(),
        }


def split_receipts(carts: Mapping[str, Cart], mapping: Mapping[str, str]) -> set[str]:
    """Truth shoppers (by ``mapping``: predicted id -> truth id) with items on more than one
    predicted receipt. Empty receipts do not count."""
    owners = Counter(mapping[s] for s, cart in carts.items() if s in mapping and sum(cart.values()) > 0)
    return {shopper for shopper, count in owners.items() if count > 1}


def _cart_text(cart: Mapping[str, int]) -> dict[str, int]:
    return {sku: int(cart[sku]) for sku in sorted(cart)}


def score_carts(
    truth: Mapping[str, Cart], predicted: Mapping[str, Cart], extra_truth_shoppers: Iterable[str] = ()
) -> tuple[CartScore, list[dict]]:
    """Per-shopper carts. ``predicted`` keys are truth ids (mapped) or ``pred:<id>`` (unmapped).

    Returns the summed score and one row per shopper: shopper, truth and predicted items,
    unit counts, exact flag.
    """
    shoppers = sorted(set(truth) | {str(s) for s in extra_truth_shoppers})
    rows: list[dict] = []
    total = CartScore()
    for shopper in shoppers:
        units = compare_carts(truth.get(shopper, {}), predicted.get(shopper, {}))
        total += CartScore(1, int(units.exact), units)
        rows.append(
            {
                "shopper": shopper,
                "truth": _cart_text(truth.get(shopper, {})),
                "predicted": _cart_text(predicted.get(shopper, {})),
                **units.to_dict(),
                "exact": units.exact,
            }
        )
    for shopper in sorted(set(predicted) - set(shoppers)):
        units = compare_carts({}, predicted[shopper])
        total += CartScore(0, 0, units)
        rows.append(
            {
                "shopper": shopper,
                "truth": {},
                "predicted": _cart_text(predicted[shopper]),
                **units.to_dict(),
                "exact": units.exact,
            }
        )
    return total, rows


def merge_mapped(carts: Mapping[str, Cart], mapping: Mapping[str, str]) -> dict[str, Cart]:
    """Predicted-id carts -> truth-id carts (fragments summed); unmapped ids become ``pred:<id>``."""
    merged: dict[str, Counter] = {}
    for shopper, cart in carts.items():
        key = mapping.get(shopper, f"{UNMAPPED_PREFIX}{shopper}")
        merged.setdefault(key, Counter()).update(cart)
    return merged


@dataclass(frozen=True)
class Receipts:
    """receipts.json contents: predicted shopper id -> cart, and the unattributed cart."""

    shoppers: dict[str, Cart]
    unattributed: Cart

    @property
    def store(self) -> Cart:
        total = Counter(self.unattributed)
        for cart in self.shoppers.values():
            total.update(cart)
        return _clip(total)


def _cart(items: Mapping[str, int]) -> Cart:
    return _clip(Counter({str(sku): int(qty) for sku, qty in items.items()}))


def read_receipts(path: Path) -> Receipts:
    """Read receipts.json through :func:`formats.receipts.read_receipts` (FormatError on anything
    malformed) and keep the carts."""
    payload = read_receipts_file(path)
    return Receipts(
        shoppers={str(k): _cart(v.get("items", {})) for k, v in payload["shoppers"].items()},
        unattributed=_cart(payload["unattributed"].get("items", {})),
    )


def _probability(line: dict) -> float:
    """A line's ``probability`` (NaN when absent or null); ValueError outside [0, 1]."""
    value = line.get("probability")
    if value is None:
        return math.nan
    try:
        probability = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"probability {value!r} is not a number") from None
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability {value!r} is not in [0, 1]")
    return probability


def receipt_line_dicts(path: Path) -> list[dict]:
    """The counted lines with a product of a receipts.json, as dicts with their ``shopper`` ('' for
    unattributed lines), in the order of :func:`receipt_events`' rows (time, stable)."""
    payload = read_receipts_file(path)
    groups = [(str(k), v) for k, v in payload["shoppers"].items()]
    groups.append(("", payload["unattributed"]))
    lines = []
    for shopper, part in groups:
        for line in part.get("lines", []):
            if line.get("counted", True) and line.get("sku"):
                try:
                    lines.append((float(line["timestamp"]), {**line, "shopper": shopper}))
                except (KeyError, TypeError, ValueError) as exc:
                    raise FormatError(path, f"malformed receipt line of shopper {shopper or 'unattributed'}: "
                                      f"{exc}") from None
    return [line for _, line in sorted(lines, key=lambda pair: pair[0])]


def receipt_events(path: Path) -> pd.DataFrame:
    """The counted lines of a receipts.json as an events table (the columns of
    ``formats.tables.read_events``; shopper '' for unattributed lines, camera '', frame -1), so the
    fused timeline can be scored like vision's events. Lines without a product are left out.

    Two more columns (:data:`LINE_COLUMNS`): ``probability`` (the line's, NaN when the line has none,
    as in receipts.json files written before it) and ``status``. Rows are in the order of
    :func:`receipt_line_dicts`."""
    rows = []
    for line in receipt_line_dicts(path):
        shopper = line["shopper"]
        try:
            rows.append({
                "timestamp": float(line["timestamp"]), "shopper": shopper, "action": str(line["action"]),
                "sku": str(line["sku"]), "quantity": int(line["quantity"]), "shelf": str(line["shelf"]),
                "plates": ";".join(str(p) for p in line.get("plates", [])), "camera": "", "frame": -1,
                "confidence": 1.0, "probability": _probability(line), "status": str(line.get("status", "")),
            })
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FormatError(path, f"malformed receipt line of shopper {shopper or 'unattributed'}: {exc}") from None
    frame = pd.DataFrame(rows, columns=[*EVENT_COLUMNS, *PREDICTED_EXTRA_COLUMNS, *LINE_COLUMNS])
    frame["probability"] = frame["probability"].astype(float)
    return frame
