"""Which products (and how many) explain a weight event: a scored list of :class:`Candidate`; and, for a
change of several products made in steps, which product each step was (:func:`steps_by_product`).

Products come from the *live* planogram of the event's plates (and their neighbours): the planned
products plus any product a shopper returned there (a returned item on the wrong plate is learned,
so a later pick of it from that plate is identified). A weight gain that fits no local product is
matched against the whole catalog (a return to the wrong place). Each candidate explains |delta|
as a sum of ``quantity x weight_g`` within a tolerance that grows with the nominal weight
(catalogue weights are often off by a few percent).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from formats.weight_events import WeightEvent

log = logging.getLogger(__name__)

MAX_SPLIT_STEPS = 6  # a change of several products is split by its steps up to this many (one product: any)


@dataclass(frozen=True)
class IdentifyConfig:
    """Thresholds of identification.

    weight_tolerance_frac: nominal weights may be off by this fraction (1 sigma of the fit).
    weight_tolerance_g: absolute part of the tolerance (sensor noise), grams (1 sigma).
    max_quantity: largest quantity of one product per event.
    max_products: largest number of distinct products per event.
    neighbour_prior: prior of a product held only by a neighbouring plate (on the event's plates: 1).
    catalog_prior: prior of a product not on or next to these plates (returns only).
    combo_prior: prior factor for each product beyond the first.
    quantity_prior: prior factor for each item beyond the first.
    min_fit: a candidate whose fit (likelihood in (0, 1]) is below this is no explanation.
    neighbour_plates: plates this far away count as neighbours.
    taken_prior: prior of "one item taken earlier is put back" (scored on its measured weight).
    measured_tolerance_frac: relative tolerance of a measured item weight (1 sigma).
    untaken_prior: prior factor, for a gain, per item of a product nobody has taken yet (by the
        weights so far): what goes back on a shelf was almost always taken from one first.
    placement_scale: how fast a candidate loses weight when its products' grams did not leave the
        plates holding them (share of a plate region's change misplaced at which the score falls by e;
        each product's plates, and each plate holding none of them, is a region).
    """

    weight_tolerance_frac: float = 0.05
    weight_tolerance_g: float = 3.0
    max_quantity: int = 4
    max_products: int = 2
    neighbour_prior: float = 0.1
    catalog_prior: float = 0.05
    combo_prior: float = 0.2
    quantity_prior: float = 0.7
    min_fit: float = 0.01
    neighbour_plates: int = 1
    placement_scale: float = 0.15
    taken_prior: float = 1.0
    measured_tolerance_frac: float = 0.01
    untaken_prior: float = 0.1


@dataclass(frozen=True)
class Candidate:
    """One explanation of a weight event: ``items`` is ((sku, quantity), ...), sorted by sku.

    expected_g: sum of quantity x nominal weight (positive); error_g: |delta| - expected_g.
    fit: Gaussian likelihood of the error in (0, 1]; score: fit x prior, normalised over the list.
    """

    items: tuple[tuple[str, int], ...]
    expected_g: float
    error_g: float
    fit: float
    score: float

    @property
    def quantity(self) -> int:
        return sum(q for _, q in self.items)

    def describe(self, names: dict[str, str] | None = None) -> str:
        names = names or {}
        return " + ".join(f"{q} x {names.get(s, s)}" for s, q in self.items)

    def to_dict(self) -> dict:
        return {
            "items": [[s, q] for s, q in self.items],
            "expected_g": self.expected_g,
            "error_g": self.error_g,
            "fit": self.fit,
            "score": self.score,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Candidate:
        return cls(
            items=tuple((str(s), int(q)) for s, q in data["items"]),
            expected_g=float(data["expected_g"]),
            error_g=float(data["error_g"]),
            fit=float(data["fit"]),
            score=float(data["score"]),
        )


@dataclass
class LivePlanogram:
    """What each plate holds now: the planned product plus learned extras (returns to the wrong plate).

    planned: (shelf, plate) -> sku; extras: (shelf, plate) -> {sku: count of items put there}.
    taken_g: sku -> measured grams per item of each item taken so far (a return is most likely one
        of them, and its measured weight is sharper evidence than the catalog's nominal weight).
    """

    planned: dict[tuple[str, int], str]
    extras: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)
    taken_g: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def from_planogram(cls, planogram: pd.DataFrame) -> LivePlanogram:
        planned = {
            (str(s), int(p)): str(k)
            for s, p, k in zip(planogram["shelf"], planogram["plate"], planogram["sku"], strict=True)
        }
        return cls(planned)

    def products(self, shelf: str, plate: int) -> set[str]:
        skus = set(self.extras.get((shelf, plate), {}))
        if (shelf, plate) in self.planned:
            skus.add(self.planned[(shelf, plate)])
        return skus

    def shelves(self) -> set[str]:
        return {s for s, _ in self.planned}

    def learn(self, event: WeightEvent, sku: str, quantity: int, action: str,
              grams_per_item: float | None = None) -> None:
        """Record ``quantity`` items of ``sku`` of a settled weight event: a return of an unplanned
        product adds it to the event's plates; a pick of a learned product takes it away again.
        ``grams_per_item``: each item's measured weight (default: the whole change over ``quantity``,
        right only when these are all of the event's items)."""
        plates = [(event.shelf, p) for p in event.plates]
        per_item = abs(event.delta_g) / quantity if grams_per_item is None else grams_per_item
        if action == "pick":
            self.taken_g.setdefault(sku, []).extend([per_item] * quantity)
        elif self.taken_g.get(sku):
            for _ in range(min(quantity, len(self.taken_g[sku]))):
                held = self.taken_g[sku]
                held.pop(min(range(len(held)), key=lambda i: abs(held[i] - per_item)))
        if any(self.planned.get(key) == sku for key in plates):
            return
        # The item rests on the plate that changed most.
        key = plates[max(range(len(plates)), key=lambda i: abs(event.plate_deltas_g[i]))]
        extras = self.extras.setdefault(key, {})
        if action == "return":
            extras[sku] = extras.get(sku, 0) + quantity
            log.info("live planogram: %s/%d now also holds %s", key[0], key[1], sku)
        else:
            for other in plates:
                held = self.extras.get(other, {})
                if sku in held:
                    held[sku] -= quantity
                    if held[sku] <= 0:
                        del held[sku]
                    break


def _tolerance_g(expected_g: float, std_g: float, config: IdentifyConfig) -> float:
    return math.sqrt((config.weight_tolerance_frac * expected_g) ** 2 + std_g**2 + config.weight_tolerance_g**2)


def identify(
    event: WeightEvent,
    catalog: pd.DataFrame,
    live: LivePlanogram,
    config: IdentifyConfig | None = None,
) -> list[Candidate]:
    """Candidates explaining ``event``, best first, scores summing to 1 (empty: nothing fits)."""
    config = config or IdentifyConfig()
    weight = dict(zip(catalog["sku"], catalog["weight_g"].astype(float), strict=True))
    spread = dict(zip(catalog["sku"], catalog["weight_std_g"].astype(float), strict=True))
    target = abs(event.delta_g)
    # Products on the event's plates have prior 1; those only next to them neighbour_prior.
    prior: dict[str, float] = {}
    for plate in event.plates:
        for sku in live.products(event.shelf, plate):
            prior[sku] = 1.0
    for plate in event.plates:
        for offset in range(1, config.neighbour_plates + 1):
            for near in (plate - offset, plate + offset):
                for sku in live.products(event.shelf, near):
                    prior.setdefault(sku, config.neighbour_prior)
    prior = {s: p for s, p in prior.items() if s in weight}
    candidates = _enumerate(target, prior, weight, spread, config)
    candidates += _read_from_plates(event, live, prior, weight, spread, config, candidates)
    if event.delta_g > 0:
        # A gain may be an item put back in the wrong place: any catalog product, one at a time.
        elsewhere = {s: config.catalog_prior for s in weight if weight[s] > 0 and s not in prior}
        candidates += _enumerate(target, elsewhere, weight, spread, replace(config, max_products=1))
    candidates = [_placed(c, event, live, weight, config) for c in candidates]
    if event.delta_g > 0:
        candidates = [_weigh_untaken(c, live, config) for c in candidates]
        candidates += _returns_of_taken(target, live, config)
    candidates = [c for c in candidates if c.fit >= config.min_fit]
    total = sum(c.score for c in candidates)
    if total <= 0:
        return []
    ranked = sorted(
        (Candidate(c.items, c.expected_g, c.error_g, c.fit, round(c.score / total, 6)) for c in candidates),
        key=lambda c: (-c.score, c.items),
    )
    return ranked


def _weigh_untaken(candidate: Candidate, live: LivePlanogram, config: IdentifyConfig) -> Candidate:
    """A return candidate loses ``untaken_prior`` per item beyond those of its product taken so far."""
    untaken = sum(max(0, qty - len(live.taken_g.get(sku, []))) for sku, qty in candidate.items)
    if not untaken:
        return candidate
    return replace(candidate, score=candidate.score * config.untaken_prior**untaken)


def _returns_of_taken(target: float, live: LivePlanogram, config: IdentifyConfig) -> list[Candidate]:
    """One item put back that was taken earlier, scored against its own measured weight."""
    out = []
    for sku, grams in sorted(live.taken_g.items()):
        if not grams:
            continue
        measured = min(grams, key=lambda g: abs(g - target))
        error = target - measured
        tolerance = math.hypot(config.weight_tolerance_g, config.measured_tolerance_frac * measured)
        fit = math.exp(-0.5 * (error / tolerance) ** 2)
        out.append(Candidate(((sku, 1),), round(measured, 3), round(error, 3), round(fit, 6), fit * config.taken_prior))
    return out


def _placed(
    candidate: Candidate, event: WeightEvent, live: LivePlanogram, weight: dict[str, float], config: IdentifyConfig
) -> Candidate:
    """Weigh a candidate by whether each product's weight left the plates that hold it.

    The event's plates fall into regions: for each of the candidate's products, the event plates that
    hold it (its error: |observed change - quantity x weight|), and each plate holding none of them
    (its error: its change, less, for a gain, what products held by none of the event's plates, e.g. a
    wrong-plate return, can absorb). Each region is judged on its own scale, twice the larger of its
    observed change and one item of the lightest product its plates hold, so a small product's plate
    counts as much as a heavy one's: the factor is exp(-sum of error / scale / placement_scale). A hand
    leaning on the next product's plate costs a little; a whole item missing from a plate, or three
    items of the product on plate 4 when plate 3 lost most of the weight, costs a lot. With one region
    this is the error over twice the change.
    """
    observed = _signed_changes(event)
    holders = {p: live.products(event.shelf, p) for p in event.plates}

    def scale(plates: list[int], grams: float) -> float:
        lightest = min((weight[s] for p in plates for s in holders[p] if s in weight), default=0.0)
        return 2.0 * max(abs(grams), lightest, 1e-9)

    fraction = 0.0
    wildcard_g = 0.0
    claimed_plates: set[int] = set()
    for sku, qty in candidate.items:
        plates = [p for p in event.plates if sku in holders[p]]
        if not plates:
            wildcard_g += qty * weight[sku]
            continue
        claimed_plates.update(plates)
        change = sum(observed[p] for p in plates)
        fraction += abs(qty * weight[sku] - change) / scale(plates, change)
    # Wrong-plate returns absorb the largest unexplained gains first; a pick's grams left the plates
    # that held them, so a product held by none of the event's plates explains none of a loss.
    if event.delta_g < 0:
        wildcard_g = 0.0
    for p in sorted((p for p in event.plates if p not in claimed_plates), key=lambda p: -observed[p]):
        unexplained = max(observed[p], 0.0)
        absorbed = min(unexplained, wildcard_g)
        wildcard_g -= absorbed
        fraction += (unexplained - absorbed) / scale([p], observed[p])
    factor = math.exp(-fraction / config.placement_scale)
    return Candidate(candidate.items, candidate.expected_g, candidate.error_g, candidate.fit, candidate.score * factor)


def _signed_changes(event: WeightEvent) -> dict[int, float]:
    """Each plate's change in the direction of the whole event (a pick's losses and a return's gains
    positive)."""
    sign = 1.0 if event.delta_g >= 0 else -1.0
    return {p: sign * d for p, d in zip(event.plates, event.plate_deltas_g, strict=True)}


def _read_from_plates(
    event: WeightEvent, live: LivePlanogram, prior: dict[str, float], weight: dict[str, float],
    spread: dict[str, float], config: IdentifyConfig, listed: list[Candidate],
) -> list[Candidate]:
    """A change over the plates of several products, read plate by plate: each product's plates
    (those holding that product alone) gave up the whole number of its items their change is nearest
    to. One more candidate, scored like the others, and beyond ``max_products`` and ``max_quantity``
    (several hands at one shelf take more than one hand can); none when a plate holds several
    products or the reading is already listed."""
    change: dict[str, float] = {}
    for plate, grams in _signed_changes(event).items():
        held = live.products(event.shelf, plate)
        if len(held) != 1:
            return []
        (sku,) = held
        change[sku] = change.get(sku, 0.0) + grams
    if len(change) < 2 or any(sku not in prior for sku in change):
        return []
    counts = {sku: round(grams / weight[sku]) for sku, grams in change.items()}
    items = tuple(sorted((sku, n) for sku, n in counts.items() if n > 0))
    if len(items) < 2 or any(c.items == items for c in listed):
        return []
    return [_scored(items, abs(event.delta_g), prior, weight, spread, config)]


def _enumerate(
    target: float,
    prior: dict[str, float],
    weight: dict[str, float],
    spread: dict[str, float],
    config: IdentifyConfig,
) -> list[Candidate]:
    """All combinations of up to max_products products x quantities 1..max_quantity near ``target`` g."""
    out: list[Candidate] = []
    skus = sorted(prior)
    quantities = range(1, config.max_quantity + 1)
    for n_products in range(1, min(config.max_products, len(skus)) + 1):
        for combo in itertools.combinations(skus, n_products):
            for qty in itertools.product(quantities, repeat=n_products):
                if sum(qty) > config.max_quantity:
                    continue
                items = tuple(zip(combo, qty, strict=True))
                if sum(q * weight[s] for s, q in items) > 2 * target + 10 * config.weight_tolerance_g:
                    continue
                out.append(_scored(items, target, prior, weight, spread, config))
    return out


def _scored(items: tuple[tuple[str, int], ...], target: float, prior: dict[str, float], weight: dict[str, float],
            spread: dict[str, float], config: IdentifyConfig) -> Candidate:
    """``items`` as an explanation of ``target`` g: the Gaussian fit of the error times the prior (the
    products' priors, ``combo_prior`` per product beyond the first, ``quantity_prior`` per item beyond
    the first)."""
    expected, error, fit = _fit(items, target, weight, spread, config)
    p = math.prod(prior[s] for s, _ in items)
    p *= config.combo_prior ** (len(items) - 1) * config.quantity_prior ** (sum(q for _, q in items) - 1)
    return Candidate(items, round(expected, 3), round(error, 3), round(fit, 6), fit * p)


def _fit(items: Sequence[tuple[str, int]], target: float, weight: dict[str, float], spread: dict[str, float],
         config: IdentifyConfig) -> tuple[float, float, float]:
    """(expected g, error g, Gaussian likelihood of the error in (0, 1]) of ``items`` against ``target`` g."""
    expected = sum(q * weight[s] for s, q in items)
    std = math.sqrt(sum(q * spread[s] ** 2 for s, q in items))
    error = target - expected
    return expected, error, math.exp(-0.5 * (error / _tolerance_g(expected, std, config)) ** 2)


def fits(
    event: WeightEvent, items: list[tuple[str, int]], catalog: pd.DataFrame, config: IdentifyConfig | None = None
) -> float:
    """Likelihood in (0, 1] that ``items`` ((sku, quantity), ...) explain the event's |delta|."""
    config = config or IdentifyConfig()
    weight = dict(zip(catalog["sku"], catalog["weight_g"].astype(float), strict=True))
    spread = dict(zip(catalog["sku"], catalog["weight_std_g"].astype(float), strict=True))
    if any(s not in weight for s, _ in items):
        return 0.0
    return _fit(items, abs(event.delta_g), weight, spread, config)[2]


def step_clusters(event: WeightEvent, gap_s: float) -> list[tuple[float, float]]:
    """The event's steps, those closer than ``gap_s`` joined (one hand on two plates): [(time of the
    heaviest, summed grams)] in time order."""
    clusters: list[list[tuple[float, float]]] = []
    for t, grams in event.steps:
        if clusters and t - clusters[-1][-1][0] < gap_s:
            clusters[-1].append((t, grams))
        else:
            clusters.append([(t, grams)])
    return [(max(c, key=lambda s: abs(s[1]))[0], sum(g for _, g in c)) for c in clusters]


def steps_by_product(event: WeightEvent, totals: dict[str, int], weight: dict[str, float],
                     plate_stock: dict[tuple[str, int], str], config: IdentifyConfig,
                     gap_s: float) -> list[tuple[float, str, int]] | None:
    """The steps of a change of one or several products (``totals``: sku -> items), each given to one product
    as whole items: [(time, sku, items)] in time order, or None when no split adds up. Of the splits
    whose items add up to every product's total, the most likely one (least chi-square): each step's
    grams against its items' nominal weight (``config``'s weight tolerance), and, for a product the
    planogram puts on some of the changed plates, its steps' grams against what those plates lost
    (sensor noise, ``weight_tolerance_g``: the steps were measured on those plates, so this is the
    sharper evidence). Steps closer than ``gap_s`` are one (:func:`step_clusters`)."""
    clusters = step_clusters(event, gap_s)
    skus = sorted(totals)
    if len(clusters) < 2 or (len(skus) > 1 and len(clusters) > MAX_SPLIT_STEPS) \
            or any(weight.get(sku, 0.0) <= 0 for sku in skus):
        return None
    lost: dict[str, float] = {}  # grams the plates stocking each product lost
    for plate, delta in zip(event.plates, event.plate_deltas_g, strict=True):
        if (sku := plate_stock.get((event.shelf, plate))) in totals:
            lost[sku] = lost.get(sku, 0.0) + abs(delta)
    noise = config.weight_tolerance_g
    best: tuple[float, tuple[str, ...], list[int]] | None = None
    for choice in itertools.product(skus, repeat=len(clusters)):
        counts = [round(abs(grams) / weight[sku]) for (_, grams), sku in zip(clusters, choice, strict=True)]
        if min(counts) < 1 or any(sum(n for n, s in zip(counts, choice, strict=True) if s == sku) != totals[sku]
                                  for sku in skus):
            continue
        chi2 = sum((abs(grams) - n * weight[sku]) ** 2 / ((config.weight_tolerance_frac * n * weight[sku]) ** 2
                                                            + noise ** 2)
                   for (_, grams), sku, n in zip(clusters, choice, counts, strict=True))
        chi2 += sum((sum(abs(g) for (_, g), s in zip(clusters, choice, strict=True) if s == sku) - grams) ** 2
                    / noise ** 2 for sku, grams in lost.items())
        if best is None or chi2 < best[0]:
            best = (chi2, choice, counts)
    if best is None:
        return None
    return [(t, sku, n) for (t, _), sku, n in zip(clusters, best[1], best[2], strict=True)]
