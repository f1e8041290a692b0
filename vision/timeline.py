"""Cart timelines: per shopper, the ordered events and the running cart after each."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from vision.events import PickEvent

TIMELINE_VERSION = 1


@dataclass(frozen=True)
class CartTimeline:
    shopper: str
    events: tuple[PickEvent, ...]

    def carts(self) -> list[dict[str, int]]:
        """The cart after each event: sku -> quantity, picks minus returns, never below zero."""
        cart: Counter = Counter()
        states = []
        for event in self.events:
            sign = 1 if event.action == "pick" else -1
            cart[event.sku] = max(0, cart[event.sku] + sign * event.quantity)
            states.append({sku: n for sku, n in sorted(cart.items()) if n > 0})
        return states

    @property
    def final_cart(self) -> dict[str, int]:
        carts = self.carts()
        return carts[-1] if carts else {}

    def to_dict(self) -> dict:
        return {
            "shopper": self.shopper,
            "events": [
                {**event.to_dict(), "cart_after": cart} for event, cart in zip(self.events, self.carts(), strict=True)
            ],
            "final_cart": self.final_cart,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CartTimeline:
        return cls(data["shopper"], tuple(PickEvent.from_dict(e) for e in data["events"]))


def build_timelines(events: list[PickEvent]) -> list[CartTimeline]:
    """Group events by shopper, ordered by time; shoppers sorted by their first event."""
    by_shopper: dict[str, list[PickEvent]] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        by_shopper.setdefault(event.shopper, []).append(event)
    return [CartTimeline(shopper, tuple(evts)) for shopper, evts in by_shopper.items()]


def timelines_document(recording: str, timelines: list[CartTimeline]) -> dict:
    """The timeline.json payload (versioned)."""
    return {
        "version": TIMELINE_VERSION,
        "recording": recording,
        "shoppers": [t.to_dict() for t in timelines],
    }
