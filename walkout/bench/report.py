"""The benchmark report: ``report.json`` (versioned, for machines), ``report.md`` (tables for people),
``confusion.csv`` (every error of vision's events, one row each), ``fused_confusion.csv`` (the same for
the fused receipt lines), and a short text summary. A wrong-shopper row names its cause: *identity*
(the track was on the right shopper at the time, its id belongs to another), *association* (store
runs: that camera track was the right shopper's, the join across cameras gave it another's id) or
*attribution*. Quantity errors around one weight change of several hands are *shared* or *divided*
(:func:`walkout.bench.events.one_weight_change_causes`).

Overall figures are sums of counts over recordings (and cameras), with ratios derived from the
sums, never averages of per-recording ratios.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from formats.tables import write_csv_atomic, write_json_atomic, write_text_atomic
from walkout.bench.calibration import REVIEW_BUDGET, Calibration, LineOutcome, calibrate
from walkout.bench.config import REPORT_VERSION, BenchConfig
from walkout.bench.counts import Counts
from walkout.bench.events import EventScore
from walkout.bench.receipts import CartScore
from walkout.bench.score import RecordingResult
from walkout.bench.speed import SpeedScore
from walkout.bench.tracking import IdentityLoss, TrackingScore

# Names accepted by --fail-under, with what they mean (all overall figures, higher is better).
METRICS = {
    "product_precision": "events, shopper ignored: precision",
    "product_recall": "events, shopper ignored: recall",
    "product_f1": "events, shopper ignored: F1",
    "attributed_precision": "events with the right shopper: precision",
    "attributed_recall": "events with the right shopper: recall",
    "attributed_f1": "events with the right shopper: F1",
    "receipt_accuracy": "share of truth shoppers whose cart (from events) is exactly right",
    "cart_f1": "per-shopper carts from events: F1 over item units",
    "event_store_f1": "store-level items taken, from events: F1 over item units",
    "fused_product_precision": "receipts.json lines as events, shopper ignored: precision",
    "fused_product_recall": "receipts.json lines as events, shopper ignored: recall",
    "fused_product_f1": "receipts.json lines as events, shopper ignored: F1",
    "fused_attributed_precision": "receipts.json lines as events with the right shopper: precision",
    "fused_attributed_recall": "receipts.json lines as events with the right shopper: recall",
    "fused_attributed_f1": "receipts.json lines as events with the right shopper: F1",
    "fused_receipt_accuracy": "share of truth shoppers whose receipts.json cart is exactly right",
    "fused_split_receipts": "share of truth shoppers whose items came on several receipts.json receipts",
    "fused_unsplit_receipt_accuracy": "share of truth shoppers whose items all came on one receipts.json receipt, "
                                      "exactly right (fused_receipt_accuracy scores a split shopper's receipts "
                                      "merged; here a split shopper's receipt is wrong)",
    "fused_cart_f1": "per-shopper receipts.json carts: F1 over item units",
    "store_f1": "store-level items taken, from receipts.json (weight only): F1 over item units",
    "unreviewed_accuracy": "receipts.json lines with a probability that fusion did not send to review: "
                           "share with the right shopper",
    "budget_unreviewed_accuracy": "receipts.json lines with a probability, the 5 % least probable set aside for "
                                  "review (a fixed review budget): share of the others with the right shopper",
    "hota": "tracking HOTA",
    "mota": "tracking MOTA",
    "idf1": "tracking IDF1",
    "detection_recall": "share of the truth shopper boxes a predicted box covers (CLEAR matching at iou_threshold: "
                        "MOTChallenge's Rcll)",
    "detection_precision": "share of the predicted shopper boxes on a truth box (CLEAR matching: MOTChallenge's Prcn)",
    "visible_detection_recall": "detection_recall of the truth boxes at least min_visibility visible (what the "
                                "detector misses in plain view)",
    "visible_hota": "tracking HOTA of the truth boxes at least min_visibility visible (hidden or cut-off ones ignored)",
    "visible_idf1": "tracking IDF1 of the truth boxes at least min_visibility visible (hidden or cut-off ones ignored)",
    "global_hota": "tracking HOTA with every camera pooled under store-level shopper ids",
    "global_idf1": "tracking IDF1 with every camera pooled under store-level shopper ids",
    "global_visible_hota": "global_hota of the truth boxes at least min_visibility visible (hidden or cut-off ones "
                           "ignored)",
    "global_visible_idf1": "global_idf1 of the truth boxes at least min_visibility visible (hidden or cut-off ones "
                           "ignored)",
    "floor_idf1": "shoppers.csv floor positions vs the truth's, within floor_radius_m: IDF1",
    "floor_mota": "shoppers.csv floor positions vs the truth's, within floor_radius_m: MOTA",
    "realtime_factor": "seconds of recording per wall-clock second (a recording's cameras count its duration once)",
}
# Also in metrics(), but lower is better, so no floor for --fail-under (walkout.bench.calibration).
LOWER_IS_BETTER = {
    "review_rate": "receipts.json lines with a probability that fusion sent to review: share",
    "ece": "expected calibration error of the receipt lines' attribution probability (10 bins)",
    "fused_wrong_identity": "truth events whose receipts.json line went to another shopper whose camera track was "
                            "on the taker then, but is another person's over the recording (the track changed "
                            "shoppers): share of truth events",
    "fused_wrong_association": "truth events whose receipts.json line went to another shopper through the join "
                               "across cameras (the camera track on the taker is the taker's, its store-level id "
                               "another's): share of truth events",
    "fused_wrong_attribution": "truth events whose receipts.json line went to a shopper who was someone else or not "
                               "there: share of truth events",
    "fused_shared_takes": "truth events missed because one weight change of several shoppers went to another of "
                          "them with all its units (cause shared): share of truth events",
    "identity_switched": "store runs: matched boxes of a camera track on a truth shopper other than its main "
                         "one (the camera's tracker changed people): share of matched boxes",
    "identity_wrong_join": "store runs: matched boxes of camera tracks joined into a store-level shopper who is "
                           "mostly another truth shopper (the join across cameras put two people together): "
                           "share of matched boxes",
    "identity_split_join": "store runs: matched boxes of camera tracks joined into a store-level shopper of their "
                           "truth shopper other than that shopper's main one (the join left one person in "
                           "pieces): share of matched boxes",
    "fused_divided_takes": "receipts.json lines that took units of another shopper's take of several (cause "
                           "divided): share of truth events",
}
# The causes of a wrong-shopper line (fused_confusion's ``cause``) and their metrics.
WRONG_SHOPPER_CAUSES = {"identity": "fused_wrong_identity", "association": "fused_wrong_association",
                        "attribution": "fused_wrong_attribution"}


def _sum(values: Iterable, start):
    total = start
    for value in values:
        total = total + value
    return total


@dataclass(frozen=True)
class BenchReport:
    """Per-recording results plus the overall sums."""

    results: list[RecordingResult]
    config: BenchConfig

    @property
    def scored(self) -> list[RecordingResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[RecordingResult]:
        return [r for r in self.results if not r.ok]

    def _parts(self, attribute: str) -> list:
        return [getattr(r, attribute) for r in self.scored if getattr(r, attribute) is not None]

    @property
    def events(self) -> EventScore | None:
        parts = self._parts("events")
        return _sum(parts, EventScore()) if parts else None

    @property
    def fused_events(self) -> EventScore | None:
        parts = self._parts("fused_events")
        return _sum(parts, EventScore()) if parts else None

    @property
    def carts(self) -> CartScore | None:
        parts = self._parts("carts")
        return _sum(parts, CartScore()) if parts else None

    @property
    def receipts(self) -> CartScore | None:
        parts = self._parts("receipts")
        return _sum(parts, CartScore()) if parts else None

    @property
    def event_store(self) -> Counts | None:
        parts = self._parts("event_store")
        return _sum(parts, Counts()) if parts else None

    @property
    def receipt_store(self) -> Counts | None:
        parts = self._parts("receipt_store")
        return _sum(parts, Counts()) if parts else None

    @property
    def tracking(self) -> TrackingScore | None:
        parts = [score for r in self.scored for score in r.tracking.values()]
        return _sum(parts, TrackingScore()) if parts else None

    @property
    def visible_tracking(self) -> TrackingScore | None:
        """Tracking of the visible truth boxes, pooled; None unless every tracked camera's truth gives
        visibility (a pool of some recordings only would pass for all of them)."""
        if any(set(r.visible_tracking) != set(r.tracking) for r in self.scored):
            return None
        parts = [score for r in self.scored for score in r.visible_tracking.values()]
        return _sum(parts, TrackingScore()) if parts else None

    @property
    def global_tracking(self) -> TrackingScore | None:
        parts = self._parts("global_tracking")
        return _sum(parts, TrackingScore()) if parts else None

    @property
    def global_visible_tracking(self) -> TrackingScore | None:
        """global_tracking of the visible truth boxes; None unless every recording scored globally
        gives visibility (a pool of some recordings only would pass for all of them)."""
        if any((r.global_tracking is None) != (r.global_visible_tracking is None) for r in self.scored):
            return None
        parts = self._parts("global_visible_tracking")
        return _sum(parts, TrackingScore()) if parts else None

    @property
    def identity_loss(self) -> IdentityLoss | None:
        parts = self._parts("identity_loss")
        return _sum(parts, IdentityLoss()) if parts else None

    @property
    def floor_tracking(self) -> TrackingScore | None:
        parts = self._parts("floor_tracking")
        return _sum(parts, TrackingScore()) if parts else None

    @property
    def speed(self) -> SpeedScore:
        return _sum((r.speed for r in self.scored), SpeedScore())

    @property
    def line_outcomes(self) -> list[LineOutcome]:
        return [o for r in self.scored for o in r.line_outcomes]

    @property
    def calibration(self) -> Calibration | None:
        """The attribution probability's calibration and review figures, pooled over every recording's
        lines; None when no receipt line has a probability."""
        return calibrate(self.line_outcomes)

    def metrics(self) -> dict[str, float]:
        """Overall figures by --fail-under name (METRICS) and the LOWER_IS_BETTER ones; a metric that
        was not measured (or is undefined, NaN) is absent."""
        out: dict[str, float] = {}
        for prefix, events in (("", self.events), ("fused_", self.fused_events)):
            if events is not None:
                for level in ("product", "attributed"):
                    counts = getattr(events, level)
                    for ratio in ("precision", "recall", "f1"):
                        out[f"{prefix}{level}_{ratio}"] = getattr(counts, ratio)
        if (carts := self.carts) is not None:
            out["receipt_accuracy"] = carts.receipt_accuracy
            out["cart_f1"] = carts.units.f1
        if (store := self.event_store) is not None:
            out["event_store_f1"] = store.f1
        if (receipts := self.receipts) is not None:
            out["fused_receipt_accuracy"] = receipts.receipt_accuracy
            out["fused_split_receipts"] = receipts.split_share
            if (unsplit := receipts.unsplit_receipt_accuracy) is not None:
                out["fused_unsplit_receipt_accuracy"] = unsplit
            out["fused_cart_f1"] = receipts.units.f1
        if (store := self.receipt_store) is not None:
            out["store_f1"] = store.f1
        if (fused := self.fused_events) is not None and (truth := fused.product.matched + fused.product.missed):
            kinds = Counter((c["kind"], c.get("cause")) for r in self.scored for c in r.fused_confusion)
            out["fused_shared_takes"] = kinds["missed", "shared"] / truth
            out["fused_divided_takes"] = kinds["extra", "divided"] / truth
            if self.tracking is not None:  # the wrong-shopper causes need truth tracks
                out.update({name: kinds["misattributed", cause] / truth for cause, name in WRONG_SHOPPER_CAUSES.items()})
        if (calibration := self.calibration) is not None:
            figures = {"review_rate": calibration.review_rate, "unreviewed_accuracy": calibration.unreviewed_accuracy,
                       "budget_unreviewed_accuracy": calibration.budget_accuracy, "ece": calibration.ece}
            out.update({name: value for name, value in figures.items() if not math.isnan(value)})
        if (tracking := self.tracking) is not None:
            summary = tracking.summary()
            out.update(hota=summary["hota"], mota=summary["mota"], idf1=summary["idf1"])
            out.update(_detection(summary))
        if (visible := self.visible_tracking) is not None:
            summary = visible.summary()
            out.update(visible_hota=summary["hota"], visible_idf1=summary["idf1"])
            if "detection_recall" in (detection := _detection(summary)):
                out["visible_detection_recall"] = detection["detection_recall"]
        if (pooled := self.global_tracking) is not None:
            summary = pooled.summary()
            out.update(global_hota=summary["hota"], global_idf1=summary["idf1"])
        if (pooled := self.global_visible_tracking) is not None:
            summary = pooled.summary()
            out.update(global_visible_hota=summary["hota"], global_visible_idf1=summary["idf1"])
        if (loss := self.identity_loss) is not None and loss.matched:
            out.update({f"identity_{part}": loss.share(part) for part in ("switched", "wrong_join", "split_join")})
        if (floor := self.floor_tracking) is not None:
            summary = floor.summary()
            out.update(floor_idf1=summary["idf1"], floor_mota=summary["mota"])
        speed = self.speed
        if speed.measured and speed.realtime_factor is not None:
            out["realtime_factor"] = speed.realtime_factor
        return out

    def below(self, floors: dict[str, float]) -> list[str]:
        """One message per metric under its floor (or not measured)."""
        values = self.metrics()
        problems = []
        for name, floor in floors.items():
            if name not in values:
                problems.append(f"{name} was not measured (floor {floor:g})")
            elif values[name] < floor:
                problems.append(f"{name} = {values[name]:.3f} is below {floor:g}")
        return problems

    def to_dict(self) -> dict:
        def opt(value):
            return None if value is None else value.to_dict()

        recordings = []
        for r in self.results:
            if not r.ok:
                recordings.append({"name": r.name, "status": "failed", "error": r.error})
                continue
            recordings.append(
                {
                    "name": r.name,
                    "status": "ok",
                    "notes": r.notes,
                    "events": opt(r.events),
                    "confusion": r.confusion,
                    "fused_confusion": r.fused_confusion,
                    "carts": opt(r.carts),
                    "cart_rows": r.cart_rows,
                    "event_store": opt(r.event_store),
                    "receipts": opt(r.receipts),
                    "fused_events": opt(r.fused_events),
                    "receipt_rows": r.receipt_rows,
                    "receipt_store": opt(r.receipt_store),
                    "line_outcomes": [asdict(o) for o in r.line_outcomes],
                    "tracking": {camera: score.summary() for camera, score in sorted(r.tracking.items())},
                    "id_mapping": r.id_mapping,
                    "speed": r.speed.to_dict(),
                }
            )
        tracking = self.tracking
        return {
            "version": REPORT_VERSION,
            "tool": "walkout bench",
            "config": asdict(self.config),
            "recordings": recordings,
            "failed": [r.name for r in self.failed],
            "overall": {
                "recordings": len(self.results),
                "scored": len(self.scored),
                "events": opt(self.events),
                "carts": opt(self.carts),
                "event_store": opt(self.event_store),
                "receipts": opt(self.receipts),
                "fused_events": opt(self.fused_events),
                "receipt_store": opt(self.receipt_store),
                "calibration": opt(self.calibration),
                "tracking": None if tracking is None else tracking.summary(),
                "speed": self.speed.to_dict(),
            },
            "metrics": self.metrics(),
        }


def _detection(summary: dict[str, float | int]) -> dict[str, float]:
    """detection_recall and detection_precision from CLEAR's counts (each left out when it has no boxes)."""
    found, missed, extra = summary["true_pos"], summary["missed"], summary["false_pos"]
    out = {}
    if found + missed:
        out["detection_recall"] = found / (found + missed)
    if found + extra:
        out["detection_precision"] = found / (found + extra)
    return out


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


# The tracking figures beyond the per-camera table (detection first), in the order report.md lists them.
IDENTITY_METRICS = ("detection_recall", "detection_precision", "visible_detection_recall", "visible_hota",
                    "visible_idf1", "global_hota", "global_idf1", "global_visible_hota", "global_visible_idf1",
                    "floor_idf1", "floor_mota", "identity_switched", "identity_wrong_join", "identity_split_join")


def _identity_section(metrics: dict[str, float]) -> list[str]:
    """Pooled detection and identity figures (visible boxes only, store-level ids over every camera, floor
    positions), each with its meaning; nothing when none was measured."""
    meaning = {**METRICS, **LOWER_IS_BETTER}
    rows = [[f"`{name}`", _f(metrics[name]), meaning[name]] for name in IDENTITY_METRICS if name in metrics]
    if not rows:
        return []
    header = "### Detection and identity, pooled over every recording"
    return [header, "", *_table(["metric", "value", "what it scores"], rows), ""]


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _count_row(label: str, counts: Counts) -> list:
    return [
        label,
        counts.matched,
        counts.false_pos,
        counts.missed,
        _f(counts.precision),
        _f(counts.recall),
        _f(counts.f1),
    ]


def _items(cart: dict[str, int]) -> str:
    return ", ".join(f"{sku}×{n}" for sku, n in cart.items()) or "(empty)"


def _image(plots: dict[str, str] | None, key: str, alt: str) -> list[str]:
    """A markdown image line for a plot written next to report.md (nothing if it was not written)."""
    return [f"![{alt}]({plots[key]})", ""] if plots and key in plots else []


def _calibration_section(calibration: Calibration | None, plots: dict[str, str] | None) -> list[str]:
    """report.md: reliability of the receipt lines' attribution probability, and the review curve."""
    out = ["## Attribution probability: calibration and review", ""]
    if calibration is None:
        return out + ["No receipt line has an attribution probability: not scored.", ""]
    out += [f"{calibration.lines} counted receipt lines with a probability, pooled over recordings (a line's "
            "probability of being right: the attribution model's, calibrated by the confidence model where fusion "
            "had one). A line is right when it matches a truth event (action, product, time) of the same shopper.", "",
            "### Reliability", ""]
    out += _table(["probability", "lines", "mean probability", "observed accuracy"],
                  [[f"{b.low:.1f}–{b.high:.1f}", b.lines, _f(b.confidence), _f(b.accuracy)] for b in calibration.bins])
    out += ["", f"Expected calibration error (ECE): {_f(calibration.ece)}.", "", "### Review curve", "",
            "Lines with a probability below the threshold go to review; accuracy is over the other lines.", ""]
    rows = [[f"{p.threshold:g}", _f(p.review_rate), _f(p.unreviewed_accuracy)] for p in calibration.curve]
    rows.append(["fusion's own *review* status", _f(calibration.review_rate), _f(calibration.unreviewed_accuracy)])
    rows.append([f"a fixed budget: the {REVIEW_BUDGET:.0%} least probable lines", _f(REVIEW_BUDGET),
                 _f(calibration.budget_accuracy)])
    out += _table(["review threshold", "review rate", "unreviewed accuracy"], rows) + [""]
    return out + _image(plots, "calibration", "review curve and reliability diagram")


def to_markdown(report: BenchReport, plots: dict[str, str] | None = None) -> str:
    """report.md: overall tables first, then one section per recording.

    plots: plot key -> file name relative to report.md (``walkout.bench.plots.write_plots``)."""
    cfg = report.config
    out = [
        "# walkout bench report",
        "",
        f"Recordings: {len(report.results)} ({len(report.scored)} scored, {len(report.failed)} failed). "
        f"Event time tolerance {cfg.tolerance_s:g} s; IoU threshold {cfg.iou_threshold:g}. "
        "Overall figures are sums of counts, ratios derived from the sums.",
        "",
    ]
    if report.failed:
        out += ["## Failed recordings", ""]
        out += _table(["recording", "error"], [[r.name, r.error] for r in report.failed]) + [""]

    out += ["## Events", ""]
    header = ["recording", "level", "matched", "false pos", "missed", "precision", "recall", "F1"]
    rows = []
    for r in report.scored:
        if r.events is not None:
            rows += [
                [r.name, *_count_row("product", r.events.product)],
                [r.name, *_count_row("attributed", r.events.attributed)],
            ]
        if r.fused_events is not None:
            rows += [[r.name, *_count_row("attributed, fused", r.fused_events.attributed)]]
    if (events := report.events) is not None:
        rows += [
            ["**all**", *_count_row("product", events.product)],
            ["**all**", *_count_row("attributed", events.attributed)],
        ]
    if (fused := report.fused_events) is not None:
        rows += [
            ["**all**", *_count_row("product, fused", fused.product)],
            ["**all**", *_count_row("attributed, fused", fused.attributed)],
        ]
    out += (_table(header, rows) if rows else ["not scored (no predicted events)"]) + [""]
    if events is not None:
        out += [f"Quantity mismatches among matched events: {events.quantity_mismatches}.", ""]
    if fused is not None:
        out += ["Rows marked *fused* score the counted lines of receipts.json (vision checked against the "
                "shelf weights) as events: what the verified timeline gets right.", ""]
    for label, attr in (("vision", "confusion"), ("fused", "fused_confusion")):
        kinds = Counter((c["kind"], c.get("cause")) for r in report.scored for c in getattr(r, attr))
        causes = Counter({cause: n for (kind, cause), n in kinds.items() if kind == "misattributed"})
        if causes:
            out += [f"Wrong shopper ({label}): {causes['identity']} *identity* (the track was on the right shopper, "
                    f"but its id belongs to another one over the recording)"
                    + (f", {causes['association']} *association* (a camera's track followed the right shopper, but "
                       "the join across cameras gave it another shopper's id)" if causes["association"] else "")
                    + f", {causes['attribution']} *attribution* (given to a shopper who was someone else or not there)"
                    + (f", {causes['']} unknown" if causes[""] else "") + ".", ""]
        if kinds["missed", "shared"] or kinds["extra", "divided"]:
            out += [f"One weight change, several shoppers ({label}): {kinds['missed', 'shared']} truth events missed "
                    "because another shopper's line took their units (*shared*), "
                    f"{kinds['extra', 'divided']} lines that took units of another shopper's take (*divided*).", ""]
    out += _image(plots, "f1", "F1 per recording") + _image(plots, "errors", "event errors over time")

    out += ["## Receipts", "",
            "*split*: truth shoppers whose items came on several receipts (lost and re-found under a new id, or "
            "two ids mixed up; scored with the parts merged, but a store would hand them several receipts).", ""]
    header = [
        "recording",
        "source",
        "truth shoppers",
        "exact",
        "receipt accuracy",
        "split",
        "unit P",
        "unit R",
        "unit F1",
    ]
    rows = []
    sources = [("events", "carts"), ("receipts.json", "receipts")]
    for r in report.scored:
        for label, attr in sources:
            if (score := getattr(r, attr)) is not None:
                rows.append(
                    [
                        r.name,
                        label,
                        score.shoppers,
                        score.exact,
                        _f(score.receipt_accuracy),
                        score.split,
                        _f(score.units.precision),
                        _f(score.units.recall),
                        _f(score.units.f1),
                    ]
                )
    for label, attr in sources:
        if (score := getattr(report, attr)) is not None:
            rows.append(
                [
                    "**all**",
                    label,
                    score.shoppers,
                    score.exact,
                    _f(score.receipt_accuracy),
                    score.split,
                    _f(score.units.precision),
                    _f(score.units.recall),
                    _f(score.units.f1),
                ]
            )
    out += (_table(header, rows) if rows else ["not scored"]) + [""]

    out += ["### Store level (items taken from the store, net of returns, shoppers ignored)", ""]
    header = ["recording", "source", "matched units", "extra", "missed", "precision", "recall", "F1", "exact"]
    rows = []
    stores = [("events", "event_store"), ("receipts.json (weight only)", "receipt_store")]
    for r in report.scored:
        for label, attr in stores:
            if (c := getattr(r, attr)) is not None:
                rows.append(
                    [
                        r.name,
                        label,
                        c.matched,
                        c.false_pos,
                        c.missed,
                        _f(c.precision),
                        _f(c.recall),
                        _f(c.f1),
                        "yes" if c.exact else "no",
                    ]
                )
    for label, attr in stores:
        if (c := getattr(report, attr)) is not None:
            rows.append(
                [
                    "**all**",
                    label,
                    c.matched,
                    c.false_pos,
                    c.missed,
                    _f(c.precision),
                    _f(c.recall),
                    _f(c.f1),
                    "yes" if c.exact else "no",
                ]
            )
    out += (_table(header, rows) if rows else ["not scored"]) + [""]

    out += _calibration_section(report.calibration, plots)

    out += ["## Tracking", ""]
    header = ["recording", "camera", "HOTA", "MOTA", "IDF1", "ID switches", "TP", "FP", "FN", "frames",
              "truth boxes visible", "IDF1 of visible boxes"]

    def tracking_row(name: str, camera: str, score: TrackingScore, visible: TrackingScore | None) -> list:
        s = score.summary()
        shown = visible.summary() if visible is not None else None
        truth = s["true_pos"] + s["missed"]
        return [name, camera, _f(s["hota"]), _f(s["mota"]), _f(s["idf1"]), s["id_switches"], s["true_pos"],
                s["false_pos"], s["missed"], s["frames"],
                _f((shown["true_pos"] + shown["missed"]) / truth) if shown is not None and truth else "–",
                _f(shown["idf1"]) if shown is not None and shown["true_pos"] + shown["false_pos"] + shown["missed"]
                else "–"]  # nothing visible and nothing predicted there: no IDF1

    rows = [tracking_row(r.name, camera, score, r.visible_tracking.get(camera))
            for r in report.scored for camera, score in sorted(r.tracking.items())]
    if (tracking := report.tracking) is not None:
        rows.append(tracking_row("**all**", "", tracking, report.visible_tracking))
    out += (_table(header, rows) if rows else ["not scored (no truth or predicted tracks)"]) + [""]
    if rows:
        out += [f"*truth boxes visible*: the share of the camera's truth boxes at least {report.config.min_visibility:g} "
                "visible (the others are hidden behind shelves or shoppers, or cut by the image's edge, and count as "
                "missed above); *IDF1 of visible boxes* scores only those.", ""]
    out += _identity_section(report.metrics())

    out += ["## Speed", ""]
    out += _image(plots, "speed", "time per frame by stage")
    speed = report.speed
    if not speed.measured:
        out += ["no timings", ""]
    else:
        stages = sorted({name for t in speed.cameras.values() for name in t.stages_s})
        header = [
            "camera",
            "frames",
            "video s",
            "wall s",
            *[f"{s} fps" for s in stages],
            "fps",
            "real-time factor",
            "idle skipped",
        ]
        rows = []
        for camera, t in sorted(speed.cameras.items()):
            rows.append(
                [
                    camera,
                    t.frames,
                    _f(t.video_s, 1),
                    _f(t.total_s, 2),
                    *[_f(t.stage_fps.get(s), 1) for s in stages],
                    _f(t.fps, 1),
                    _f(t.realtime_factor, 2),
                    _f(t.skipped_share, 2),
                ]
            )
        total = speed.total
        rows.append(
            [
                "**all**",
                total.frames,
                _f(total.video_s, 1),
                _f(total.total_s, 2),
                *[_f(total.stage_fps.get(s), 1) for s in stages],
                _f(total.fps, 1),
                _f(speed.realtime_factor, 2),
                _f(total.skipped_share, 2),
            ]
        )
        out += _table(header, rows) + ["", "The **all** row's real-time factor counts each recording's duration "
                                       "once, however many cameras saw it: >= 1 keeps up with every camera.", ""]
        if speed.baselines:
            rows = []
            for name, t in sorted(speed.baselines.items()):
                ratio = total.fps / t.fps if total.fps and t.fps else None
                rows.append([name, t.frames, _f(t.fps, 1), _f(t.realtime_factor, 2), _f(ratio, 2)])
            out += _table(
                ["baseline", "frames", "fps", "real-time factor", "pipeline fps / baseline fps"], rows
            ) + [""]

    for r in report.scored:
        out += [f"## {r.name}", ""]
        out += [f"- {note}" for note in r.notes] + ([""] if r.notes else [])
        if r.id_mapping:
            text = "; ".join(
                f"{cam}: " + ", ".join(f"{p}→{t}" for p, t in sorted(m.items()))
                for cam, m in sorted(r.id_mapping.items())
            )
            out += [f"Predicted track → truth shopper: {text}", ""]
        if r.confusion:
            out += ["### Errors", ""]
            header = [
                "kind",
                "time (s from camera start)",
                "camera",
                "frame",
                "action",
                "sku",
                "truth shopper",
                "predicted shopper",
                "qty truth/pred",
                "Δt s",
            ]
            rows = [
                [
                    c["kind"],
                    _f(c["video_s"], 2),
                    c["camera"],
                    "–" if c["frame"] is None else c["frame"],
                    c["action"],
                    c["sku"],
                    c["truth_shopper"] or "–",
                    "–"
                    if c["pred_shopper"] is None
                    else f"{c['pred_shopper']} (→{c['pred_shopper_as_truth']})",
                    f"{c['truth_quantity'] or '–'}/{c['pred_quantity'] or '–'}",
                    _f(c["dt_s"], 2),
                ]
                for c in r.confusion
            ]
            out += _table(header, rows) + [""]
        elif r.events is not None:
            out += ["No event errors.", ""]
        wrong = [row for row in r.cart_rows if not row["exact"]]
        if wrong:
            out += ["### Carts that differ from the truth", ""]
            out += _table(
                ["shopper", "truth", "predicted (from events)"],
                [[w["shopper"], _items(w["truth"]), _items(w["predicted"])] for w in wrong],
            ) + [""]
    return "\n".join(out).rstrip() + "\n"


def summary(report: BenchReport) -> list[str]:
    """A few lines for the terminal."""
    lines = [f"{len(report.results)} recording(s): {len(report.scored)} scored, {len(report.failed)} failed"]
    for r in report.failed:
        lines.append(f"  FAILED {r.name}: {r.error}")
    metrics = report.metrics()
    if not metrics:
        lines.append("  nothing scored")
    width = max((len(name) for name in metrics), default=0)
    for name, value in metrics.items():
        lines.append(f"  {name:{width}s} {value:.3f}")
    if not report.speed.measured:
        lines.append("  speed: no timings")
    else:
        if report.speed.total.skipped_share is not None:
            lines.append(f"  idle frames, detectors skipped: {report.speed.total.skipped} of "
                         f"{report.speed.total.frames} ({report.speed.total.skipped_share:.0%})")
        for name, t in sorted(report.speed.baselines.items()):
            total = report.speed.total
            if total.fps and t.fps:
                lines.append(
                    f"  speed vs {name}: {total.fps / t.fps:.2f}x ({total.fps:.1f} vs {t.fps:.1f} fps)"
                )
    return lines


CONFUSION_COLUMNS = [
    "recording",
    "kind",
    "timestamp",
    "camera",
    "frame",
    "video_s",
    "action",
    "sku",
    "truth_shopper",
    "pred_shopper",
    "pred_shopper_as_truth",
    "truth_quantity",
    "pred_quantity",
    "dt_s",
    "cause",
]


def write_report(report: BenchReport, out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md, confusion.csv and the plots report.md links (PNGs) into ``out_dir``."""
    from walkout.bench.plots import write_plots

    out_dir = Path(out_dir)
    rows = [{"recording": r.name, **c} for r in report.scored for c in r.confusion]
    fused_rows = [{"recording": r.name, **c} for r in report.scored for c in r.fused_confusion]
    plots = write_plots(report, out_dir)
    return {
        **{f"plot_{key}": path for key, path in plots.items()},
        "json": write_json_atomic(report.to_dict(), out_dir / "report.json"),
        "markdown": write_text_atomic(
            to_markdown(report, {key: path.name for key, path in plots.items()}), out_dir / "report.md"
        ),
        "confusion": write_csv_atomic(
            pd.DataFrame(rows, columns=CONFUSION_COLUMNS), out_dir / "confusion.csv"
        ),
        "fused_confusion": write_csv_atomic(
            pd.DataFrame(fused_rows, columns=CONFUSION_COLUMNS), out_dir / "fused_confusion.csv"
        ),
    }
