"""Identification: which products and quantities explain a weight event (planogram + catalog)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from fusion_synth import CATALOG, PLANOGRAM, T0, WEIGHT

from formats.errors import FormatError
from formats.receipts import ReceiptLine
from formats.weight_events import WeightEvent
from fusion.identify import Candidate, IdentifyConfig, LivePlanogram, identify, steps_by_product
from fusion.matching import learn_event
from fusion.pipeline import FuseConfig
from fusion.reconcile import STEP_GAP_S

catalog = pd.DataFrame(CATALOG, columns=["sku", "name", "weight_g"]).assign(weight_std_g=0.0)
planogram = pd.DataFrame(PLANOGRAM, columns=["shelf", "plate", "sku"])


def event(shelf: str, plates: tuple[int, ...], deltas: tuple[float, ...], t: float = 10.0):
    from fusion.weight_events import WeightEvent

    return WeightEvent("w0001", shelf, plates, T0 + t, T0 + t + 0.5, sum(deltas), deltas, 0.9)


CASES = {
    # name: (event, best items)
    "chips from their plate": (event("A1", (3,), (-120.0,)), (("0002", 1),)),
    "nominal weight 5 % off still fits": (event("A1", (3,), (-126.0,)), (("0002", 1),)),
    "two bags of chips = quantity 2": (event("A1", (3,), (-240.0,)), (("0002", 2),)),
    "cola across its two plates": (event("A1", (1, 2), (-200.0, -150.0)), (("0001", 1),)),
    "chips and a bar at once": (event("A1", (3, 4), (-120.0, -50.0)), (("0002", 1), ("0003", 1))),
    "a bar put back": (event("A1", (4,), (+50.0,)), (("0003", 1),)),
}


@pytest.mark.parametrize(("weight_event", "best"), CASES.values(), ids=CASES.keys())
def test_best_candidate(weight_event, best):
    candidates = identify(weight_event, catalog, LivePlanogram.from_planogram(planogram))
    assert candidates[0].items == best
    assert sum(c.score for c in candidates) == pytest.approx(1.0)
    assert candidates == sorted(candidates, key=lambda c: -c.score)


# A heavy product beside a light one: water (1040 g, nominal weights 5 % off = 52 g) on plate 1, a
# chocolate bar (48 g) on plate 2. The total alone cannot tell "water" from "water and a bar"; the
# plates can.
HEAVY_AND_LIGHT_CATALOG = pd.DataFrame({"sku": ["W", "C"], "name": ["Water", "Chocolate"],
                                        "weight_g": [1040.0, 48.0], "weight_std_g": [0.0, 0.0]})
HEAVY_AND_LIGHT = LivePlanogram.from_planogram(pd.DataFrame({"shelf": ["A1", "A1"], "plate": [1, 2], "sku": ["W", "C"]}))


def test_a_light_item_beside_a_heavy_one_is_not_lost_in_the_total():
    # Plate 2 lost one bar's weight: the bar is part of the take, though the water alone is within its tolerance.
    (best, *_) = identify(event("A1", (1, 2), (-1032.2, -48.2)), HEAVY_AND_LIGHT_CATALOG, HEAVY_AND_LIGHT)
    assert best.items == (("C", 1), ("W", 1))


def test_a_nudge_on_the_next_plate_does_not_add_an_item():
    # 12 g on the bar's plate is a quarter of a bar: a hand resting there, not a bar taken.
    (best, *_) = identify(event("A1", (1, 2), (-1040.0, -12.0)), HEAVY_AND_LIGHT_CATALOG, HEAVY_AND_LIGHT)
    assert best.items == (("W", 1),)


def test_three_products_over_three_plates_are_read_plate_by_plate():
    # Four hands at one shelf within two seconds: a tea box, two cans and two detergents (3818 g), more
    # products and items than one hand takes. Rice (1010 g) on the next plate is no explanation of a
    # loss on plates that do not hold it.
    catalog = pd.DataFrame({"sku": ["T", "C", "D", "R"], "name": ["Tea", "Cola", "Detergent", "Rice"],
                            "weight_g": [110.0, 368.0, 1480.0, 1010.0], "weight_std_g": [0.0, 0.0, 0.0, 0.0]})
    live = LivePlanogram.from_planogram(pd.DataFrame({"shelf": ["B3"] * 4, "plate": [1, 2, 3, 4],
                                                      "sku": ["T", "C", "D", "R"]}))
    (best, *_) = identify(event("B3", (1, 2, 3), (-110.6, -736.9, -2971.1)), catalog, live)
    assert best.items == (("C", 2), ("D", 2), ("T", 1))


def test_nothing_fits_gives_an_empty_list():
    assert identify(event("A1", (3,), (-80.0,)), catalog, LivePlanogram.from_planogram(planogram)) == []


def test_wrong_plate_return_is_learned_and_a_later_pick_identified():
    live = LivePlanogram.from_planogram(planogram)
    # Tea (410 g, planned on B1/2) is put back on A1/4, the bar's plate: no local product fits.
    back = event("A1", (4,), (+410.0,))
    (best, *_) = identify(back, catalog, live)
    assert best.items == (("0005", 1),)
    live.learn(back, "0005", 1, "return")
    assert live.products("A1", 4) == {"0003", "0005"}
    # Later someone takes it from there: tea, from the live planogram (picks never search the catalog).
    later = event("A1", (4,), (-410.0,), t=30.0)
    (best, *_) = identify(later, catalog, live)
    assert best.items == (("0005", 1),)
    live.learn(later, "0005", 1, "pick")
    assert live.products("A1", 4) == {"0003"}


def test_without_learning_the_same_pick_is_not_soap():
    live = LivePlanogram.from_planogram(planogram)
    candidates = identify(event("A1", (4,), (-410.0,)), catalog, live)
    assert all(("0005", 1) not in c.items for c in candidates)


def test_candidate_round_trips_through_dict():
    candidate = Candidate((("0002", 2),), 240.0, -1.0, 0.99, 0.8)
    assert Candidate.from_dict(candidate.to_dict()) == candidate


def test_config_loads_from_dict_with_the_types_of_a_config_file():
    assert FuseConfig.from_dict({"identify": {"max_quantity": 3}}).identify.max_quantity == 3
    with pytest.raises(FormatError, match=r"fuse config: \[identify\] max_quantity: expected a whole number, got "
                                          r"the text '3'"):
        FuseConfig.from_dict({"identify": {"max_quantity": "3"}})
    with pytest.raises(FormatError, match=r"field 'identify': unknown key\(s\) tolerance"):
        FuseConfig.from_dict({"identify": {"tolerance": 1}})


def test_a_gain_is_what_was_taken_not_two_of_a_product_nobody_took():
    # Tea (410 g) was taken from B1/2; 404 g comes back on B1/1, the soap plate (2 x 200 g soap = 400 g).
    def best_return(config: IdentifyConfig) -> tuple:
        live = LivePlanogram.from_planogram(planogram)
        taken = event("B1", (2,), (-410.0,))
        live.learn(taken, "0005", 1, "pick")
        return identify(event("B1", (1,), (+404.0,), t=20.0), catalog, live, config)[0].items

    assert best_return(IdentifyConfig()) == (("0005", 1),)
    # Without the rule, the closer fit of two soaps nobody took wins.
    assert best_return(IdentifyConfig(untaken_prior=1.0)) == (("0004", 2),)


def _line(sku: str, quantity: int, shopper: str, taken: WeightEvent) -> ReceiptLine:
    return ReceiptLine("reached", sku, quantity, "pick", taken.start, taken.shelf, taken.plates, taken.delta_g, None,
                       taken.id, "fits", shopper=shopper)


def test_items_shared_between_shoppers_are_learned_at_their_own_weight():
    """Two bags of chips taken at once by two shoppers (one line each) weigh 120 g each, not 240 g:
    the two coming back together are two bags, not one bag of the 'measured' 240 g."""
    live = LivePlanogram.from_planogram(planogram)
    taken = event("A1", (3,), (-240.0,))
    learn_event(live, taken, [_line("0002", 1, "1", taken), _line("0002", 1, "2", taken)], WEIGHT)
    assert live.taken_g["0002"] == [120.0, 120.0]
    assert identify(event("A1", (3,), (+240.0,), t=20.0), catalog, live)[0].items == (("0002", 2),)

    # Mixed products share the measured change in proportion to their catalog weights.
    live = LivePlanogram.from_planogram(planogram)
    mixed = event("A1", (3, 4), (-126.0, -49.0))
    learn_event(live, mixed, [_line("0002", 1, "1", mixed), _line("0003", 1, "2", mixed)], WEIGHT)
    assert live.taken_g["0002"] == [pytest.approx(175.0 * 120 / 170)]
    assert live.taken_g["0003"] == [pytest.approx(175.0 * 50 / 170)]


def test_a_change_s_steps_go_to_the_products_whose_items_and_plates_they_fit():
    # Rice (1010 g, plate 2) and cereal (510 g, plate 1): two cereals weigh about one rice, and the
    # second step (1012 g) is nearer one rice than two cereals. But plate 1 lost exactly 1012 g: the
    # steps were weighed on the plates, so the split follows the plates.
    rice, cereal = "rice", "cereal"
    change = replace(event("A1", (1, 2), (-1012.0, -2027.0)), steps=((6.15, -1008.0), (7.27, -1012.0), (8.15, -1019.0)))
    weight, config = {rice: 1010.0, cereal: 510.0}, IdentifyConfig()
    stock = {("A1", 1): cereal, ("A1", 2): rice}
    assert steps_by_product(change, {rice: 2, cereal: 2}, weight, stock, config, STEP_GAP_S) == [
        (6.15, rice, 1), (7.27, cereal, 2), (8.15, rice, 1)]
    # Without the plates (neither stocks them) the nearest fits decide.
    assert steps_by_product(change, {rice: 2, cereal: 2}, weight, {}, config, STEP_GAP_S) == [
        (6.15, rice, 1), (7.27, rice, 1), (8.15, cereal, 2)]
    assert steps_by_product(change, {rice: 3, cereal: 2}, weight, stock, config, STEP_GAP_S) is None  # no split adds up
    one_step = replace(change, steps=((6.15, -3039.0),))
    assert steps_by_product(one_step, {rice: 2, cereal: 2}, weight, stock, config, STEP_GAP_S) is None
