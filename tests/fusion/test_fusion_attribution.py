"""Who took it: each take's candidate shoppers and their evidence (fusion.evidence), the attribution
model that turns evidence into probabilities and its file (fusion.attribution), the joint assignment
of one moment's takes, and fusion giving every line a shopper, a probability and the evidence."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from fusion_synth import T0, LogSpec, Step, make_log, write_events, write_recording
from test_fusion_presence import (
    FPS,
    STORE,
    presence,
    reaching_tracks,
    stands,
    weight_event,
    write_hands,
    write_tracks,
)
from test_fusion_reaches import reach, reaches_table

import fusion.attribution
from formats.errors import FormatError
from formats.weight_events import WeightEvent
from fusion.attribution import (
    CLASH,
    AttributionConfig,
    AttributionModel,
    NearestShopper,
    assign,
    fit_model,
    load_model,
    resolve_model,
)
from fusion.evidence import FEATURES, HOLD_S, MAX_DISTANCE_M, MAX_OFFSET, NEAR_S, Take, candidate_features
from fusion.pipeline import FuseConfig, fuse_recording
from fusion.presence import read_presence
from fusion.reconcile import reconcile

CHIPS, COLA, SOAP = "0002", "0001", "0004"
TRAIN = "walkout train --only attribution"


def take(event=None, action="pick", sku=CHIPS, quantity=1, claims=()) -> Take:
    event = event or weight_event()  # A1 plate 3 (x 300-400 in cam0), 5.0-5.6 s
    return Take(event, event.start, event.end, action, sku, quantity, claims)


def features(seen=None, hands=None, carts=None, busy=frozenset(), **kwargs) -> pd.DataFrame:
    return candidate_features(take(**kwargs), seen, hands, carts or {}, set(busy))


def model(intercept=0.0, **coef) -> AttributionModel:
    """A hand-made model on raw (unscaled) features: a candidate's score = intercept + sum coef x value."""
    n = len(FEATURES)
    return AttributionModel(FEATURES, (0.0,) * n, (1.0,) * n, tuple(float(coef.get(f, 0.0)) for f in FEATURES),
                            float(intercept))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# --- evidence -------------------------------------------------------------------------------------


def test_the_shopper_centred_in_front_of_the_changed_plate_has_offset_zero_and_leads(tmp_path):
    # Plate 3 spans x 300-400; boxes are 80 px wide, so one overlap bound is 40 + 50 = 90 px.
    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0), stands(2, 230, 3.0, 7.0))
    frame = features(seen)
    assert list(frame.columns) == list(FEATURES)
    assert frame.index.tolist() == ["1", "2"]
    assert frame.loc["1", "offset"] == pytest.approx(0.0)
    assert frame.loc["2", "offset"] == pytest.approx(120 / 90)
    assert frame.loc["1", "offset_lead"] == pytest.approx(-120 / 90)  # negative: the closest
    assert frame.loc["2", "offset_lead"] == pytest.approx(120 / 90)
    assert frame["share"].tolist() == [0.5, 0.5]
    assert frame["distance_m"].tolist() == [MAX_DISTANCE_M] * 2  # no floor positions: neutral


def test_a_shopper_far_from_the_plates_or_gone_before_the_change_is_not_a_candidate(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0),
                    stands(2, 30, 3.0, 7.0),  # 320 px from the plate's centre: offset 3.6 > MAX_OFFSET
                    stands(3, 350, 0.0, 2.0))  # in front, but left 2 s before the change
    assert features(seen).index.tolist() == ["1"]
    assert features(seen).loc["1", ["offset", "offset_lead", "share"]].tolist() == [0.0, 0.0, 1.0]  # alone: no lead
    assert features(presence(tmp_path, stands(2, 30, 3.0, 7.0))).empty
    assert list(features(presence(tmp_path, stands(2, 30, 3.0, 7.0))).columns) == list(FEATURES)


def test_a_zone_over_several_plates_counts_for_each_of_them(tmp_path):
    # B1's one zone spans x 100-300 over plates 1 and 2: a change on plate 2 is measured from its
    # centre (x 200), one overlap bound being 40 + 100 = 140 px.
    seen = presence(tmp_path, stands(1, 200, 3.0, 7.0), stands(2, 500, 3.0, 7.0))
    frame = features(seen, event=weight_event(plates=(2,), shelf="B1"))
    assert frame["offset"].tolist() == pytest.approx([0.0, 300 / 140])


def test_a_hand_in_the_changed_plate_has_a_small_gap_and_a_hand_only_in_another_plate_is_elsewhere(tmp_path):
    hands = reaches_table(
        reach(1, "A1", "3", 5.2, 5.5),  # into plate 3 during the change
        reach(2, "A1", "3", 6.6, 7.0),  # into plate 3, 1 s after the change ended (5.6 s)
        reach(3, "A1", "1", 5.0, 5.6),  # into plate 1 only
        reach(4, "A1", "3", 9.0, 9.5),  # too late (more than NEAR_S after)
        reach(5, "A1", "3", 5.0, 5.0, frames=1),  # a glimpse of one frame is not a reach
    )
    frame = features(None, hands)
    assert frame.index.tolist() == ["1", "2", "3"]
    assert frame["hand_gap_s"].tolist() == pytest.approx([0.0, 1.0, NEAR_S])
    assert frame["hand_elsewhere"].tolist() == [0.0, 0.0, 1.0]
    assert frame["hand_gap_lead"].tolist() == pytest.approx([-1.0, 1.0, NEAR_S])  # minus the best other's
    assert frame["offset"].tolist() == [MAX_OFFSET] * 3  # no tracks: neutral
    assert frame[["has_hands", "has_tracks", "has_reaching", "has_floor"]].drop_duplicates().values.tolist() == [
        [1.0, 0.0, 0.0, 0.0]]


def test_the_reach_classifier_column_gives_reaching_and_how_far_the_reach_was_from_the_change(tmp_path):
    """Shopper 1 reaches 4.9-5.9 s (middle 5.4 s, within the change 5.0-5.6 s); shopper 2 reaches
    6.4-7.0 s (middle 6.7 s: 1.1 s after the change) and idles during it; 3 never reaches."""
    (tmp_path / "store.json").write_text(json.dumps(STORE))

    def reaching(rows, from_s, to_s):
        return [([row], 0.95 if from_s <= row[0] / FPS <= to_s else 0.05) for row in rows]

    groups = [*reaching(stands(1, 350, 3.0, 7.0), 4.9, 5.9), *reaching(stands(2, 300, 3.0, 7.0), 6.4, 7.0),
              *reaching(stands(3, 400, 3.0, 7.0), 99, 99)]
    seen = read_presence(reaching_tracks(tmp_path / "tracks.csv", *groups), tmp_path / "store.json")
    frame = features(seen)
    assert frame["reaching"].tolist() == pytest.approx([0.95, 0.05, 0.05])
    assert frame["reach_off_s"].tolist() == pytest.approx([0.0, 1.1, NEAR_S], abs=1e-3)
    assert frame["reaching_lead"].tolist() == pytest.approx([0.9, -0.9, -0.9])  # higher is better
    assert frame["reach_off_lead"].tolist() == pytest.approx([-1.1, 1.1, NEAR_S], abs=1e-3)
    assert set(frame["has_reaching"]) == {1.0}
    # Without the column: neutral values, and the model is told it was missing.
    plain = features(presence(tmp_path, stands(1, 350, 3.0, 7.0)))
    assert plain.loc["1", ["reaching", "reach_off_s", "has_reaching", "has_tracks"]].tolist() == [0.0, NEAR_S, 0.0, 1.0]


def test_a_return_tells_who_holds_the_product(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0), stands(2, 300, 3.0, 7.0), stands(3, 400, 3.0, 7.0))
    carts = {"1": Counter({CHIPS: 1}), "2": Counter({COLA: 2}), "3": Counter({CHIPS: 1})}
    back = features(seen, carts=carts, action="return")
    assert back["return_held"].tolist() == [1.0, 0.0, 1.0]
    assert back["return_not_held"].tolist() == [0.0, 1.0, 0.0]
    two = features(seen, carts=carts, action="return", quantity=2)  # nobody holds two bags
    assert two["return_held"].tolist() == [0.0] * 3 and two["return_not_held"].tolist() == [1.0] * 3
    picked = features(seen, carts=carts)  # a pick: neither
    assert picked[["return_held", "return_not_held"]].to_numpy().sum() == 0


def test_vision_s_claim_makes_its_shopper_a_candidate_with_claim_and_confidence(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0))
    frame = features(seen, claims=(("7", 0.8),), busy={"1"})
    assert frame.index.tolist() == ["1", "7"]  # 7 was not tracked near the plates, but vision named them
    assert frame["claim"].tolist() == [0.0, 1.0]
    assert frame["claim_confidence"].tolist() == [0.0, 0.8]
    assert frame["busy"].tolist() == [1.0, 0.0]  # vision saw 1 make another change at this moment
    assert frame.loc["7", "offset"] == MAX_OFFSET


def test_floor_positions_give_a_distance_in_metres_and_has_floor(tmp_path):
    from formats.store import Box, Shelf

    seen = presence(tmp_path, stands(1, 350, 3.0, 7.0))
    plate3 = Box((0.75, 0.25, 0.3), (0.25, 0.5, 0.4))  # plate 3 of A1: x 0.625-0.875 m, front at y = 0
    shelf = Shelf("A1", Box((0.5, 0.25, 0.3), (1.0, 0.5, 0.4)), ((3, plate3),))
    times = [T0 + 3.0 + 0.1 * k for k in range(40)]
    floor = pd.DataFrame({"timestamp": times * 2, "shopper": ["1"] * 40 + ["9"] * 40,
                          "x": [0.75] * 40 + [4.0] * 40, "y": [-0.4] * 40 + [-0.3] * 40})
    frame = features(replace(seen, floor=floor, shelves=(shelf,)))
    assert frame.index.tolist() == ["1"]  # 9 stood 3.1 m away: more than MAX_DISTANCE_M
    assert frame.loc["1", ["distance_m", "has_floor"]].tolist() == pytest.approx([0.4, 1.0])


def test_who_is_seen_holding_the_product_after_a_pick_or_before_a_return_leads_on_holding(tmp_path):
    seen = presence(tmp_path, stands(1, 350, 3.0, 12.0), stands(2, 300, 3.0, 12.0), stands(3, 400, 3.0, 12.0))
    after = int((5.6 + 1.0) * FPS)  # the pick ends at 5.6 s
    late = int((5.6 + HOLD_S + 1.0) * FPS)  # too long after it to count
    write_hands(tmp_path / "hands.csv", [(after, 1, CHIPS), (after + 1, 1, CHIPS), (after + 2, 1, ""), (after, 2, COLA),
                                         (late, 3, CHIPS), (20, 2, CHIPS)])  # 2 held chips before the pick only
    seen = read_presence(tmp_path / "tracks.csv", tmp_path / "store.json")
    picked = features(seen)
    assert picked["holding"].tolist() == pytest.approx([2 / 3, 0.0, 0.0])
    assert picked["holding_any"].tolist() == [1.0, 0.0, 0.0]
    assert picked["holding_lead"].tolist() == pytest.approx([2 / 3, -2 / 3, -2 / 3])
    assert picked["has_held"].tolist() == [1.0] * 3
    back = features(seen, action="return")  # a return looks before it: 2 walked up with chips
    assert back["holding_any"].tolist() == [0.0, 1.0, 0.0]


def test_a_run_without_hands_has_no_held_evidence_and_says_so(tmp_path):
    frame = features(presence(tmp_path, stands(1, 350, 3.0, 7.0)))
    assert frame.loc["1", ["holding", "holding_any", "has_held"]].tolist() == [0.0] * 3


def test_nobody_seen_means_no_candidates():
    assert features(None, None).empty
    assert features(None, reaches_table()).empty


# --- the model file --------------------------------------------------------------------------------


def test_a_saved_model_loads_back_equal(tmp_path):
    saved = AttributionModel(FEATURES, tuple(0.1 * k for k in range(len(FEATURES))),
                             tuple(1.0 + k for k in range(len(FEATURES))), tuple(-0.5 * k for k in range(len(FEATURES))),
                             0.25, card={"rows": 120, "held_out": {"accuracy": 0.9}})
    path = saved.save(tmp_path / "attribution.json")
    assert load_model(path) == saved
    assert json.loads(path.read_text())["version"] == 1


def _written(tmp_path, **changes):
    data = {**model(1.0, offset=-2.0).to_dict(), **changes}
    path = tmp_path / "attribution.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("changes", "words"), [
    ({"version": 2}, "version 2"),
    ({"features": list(FEATURES[:-1])}, "features differ"),
    ({"features": [*FEATURES, "height"]}, "features differ"),
    ({"coef": [1.0]}, "malformed"),
    ({"scale": [0.0] * len(FEATURES)}, "malformed"),
])
def test_a_model_file_of_another_version_or_other_features_is_refused_naming_it(tmp_path, changes, words):
    path = _written(tmp_path, **changes)
    with pytest.raises(FormatError, match=words) as caught:
        load_model(path)
    assert caught.value.path == str(path) and str(path) in str(caught.value)
    assert TRAIN in str(caught.value)


@pytest.mark.parametrize("text", [None, "{not json"])
def test_a_missing_or_unreadable_model_file_is_refused_naming_it(tmp_path, text):
    path = tmp_path / "attribution.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(FormatError) as caught:
        load_model(path)
    assert str(path) in str(caught.value) and TRAIN in str(caught.value)


def test_without_the_shipped_model_fusion_falls_back_to_the_nearest_shopper_but_a_configured_one_must_exist(
        tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(fusion.attribution, "DEFAULT_MODEL", tmp_path / "missing.json")
    with caplog.at_level("WARNING", logger="fusion.attribution"):
        assert isinstance(resolve_model(AttributionConfig()), NearestShopper)
    assert "missing.json" in caplog.text and "nearest shopper" in caplog.text
    with pytest.raises(FormatError, match=str(tmp_path / "configured.json")):
        resolve_model(AttributionConfig(model=str(tmp_path / "configured.json")))
    # Present, the shipped model is used; a configured file wins over it.
    shipped = model(1.0, offset=-2.0)
    monkeypatch.setattr(fusion.attribution, "DEFAULT_MODEL", shipped.save(tmp_path / "shipped.json"))
    assert resolve_model(AttributionConfig()) == shipped
    configured = model(0.5, claim=3.0)
    assert resolve_model(AttributionConfig(model=str(configured.save(tmp_path / "configured.json")))) == configured


# --- the model ----------------------------------------------------------------------------------------


def test_one_take_s_candidates_share_probability_one_in_proportion_to_exp_of_their_scores():
    frame = pd.DataFrame([[0.0] * len(FEATURES)] * 2, columns=list(FEATURES), index=["1", "2"])
    frame["offset"] = [0.0, 2.0]
    p = model(1.0, offset=-2.0).probabilities(frame)  # scores 1 and -3
    assert p.tolist() == pytest.approx([sigmoid(4.0), sigmoid(-4.0)])
    assert model(5.0).probabilities(frame).tolist() == pytest.approx([0.5, 0.5])  # equally placed: a coin toss
    assert model(-5.0, offset=-2.0).probabilities(frame.iloc[1:]).tolist() == [1.0]  # a lone candidate is certain
    assert model().probabilities(frame.iloc[:0]).size == 0
    evidence = model(1.0, offset=-2.0, claim=0.5).evidence(frame, 1, top=2)
    assert evidence[0] == {"feature": "offset", "value": 2.0, "contribution": -4.0}
    assert evidence[1]["contribution"] == 0.0 and len(evidence) == 2


def test_a_model_fitted_on_separable_takes_prefers_the_candidate_the_labels_favour():
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(rng.uniform(0, 1, (300, len(FEATURES))), columns=list(FEATURES))
    rows["has_tracks"] = 1.0  # constant: scaled by 1, not by 0
    takes = np.repeat(np.arange(100), 3)  # 100 takes of 3 candidates; the taker stood centred
    rows["offset"] = np.tile([0.1, 1.0, 2.0], 100) + rng.uniform(0, 0.5, 300)
    labels = np.tile([1, 0, 0], 100)
    fitted = fit_model(rows, labels, takes, card={"rows": 300})
    assert fitted.features == FEATURES and fitted.card == {"rows": 300}
    assert fitted.scale[FEATURES.index("has_tracks")] == 1.0
    assert fitted.coef[FEATURES.index("offset")] < -1.0
    one_take = rows.iloc[:3].copy()
    one_take["offset"] = [0.2, 0.9, 1.6]
    p = fitted.probabilities(one_take)
    assert p[0] > 0.5 > p[1] > p[2]
    assert p.sum() == pytest.approx(1.0) and p.sum() <= 1.0 + 1e-9


# --- assigning one moment's takes ----------------------------------------------------------------------


def test_two_takes_preferring_one_shopper_go_to_them_and_the_plausible_second():
    # Take 0: A 0.9, B 0.6 (plausible); take 1: A 0.9, B 0.05. Both to A costs the second-take penalty
    # (1.5) more than giving take 0 to B (-log 0.6 + log 0.9 = 0.41).
    takes = [(["A", "B"], np.array([0.9, 0.6])), (["B", "A"], np.array([0.05, 0.9]))]
    assert assign(takes, second_take=1.5) == [1, 1]  # take 0 -> B, take 1 -> A
    # B improbable for both (0.01: -log = 4.6, more than the penalty): A makes both takes.
    takes = [(["A", "B"], np.array([0.9, 0.01])), (["A", "B"], np.array([0.9, 0.01]))]
    assert assign(takes, second_take=1.5) == [0, 0]
    # ...unless a second take costs more than the evidence against B.
    assert sorted(assign(takes, second_take=10.0)) == [0, 1]


def test_a_take_without_candidates_gets_nobody():
    assert assign([([], np.zeros(0)), (["A"], np.array([0.8]))], 1.5) == [None, 0]
    assert assign([([], np.zeros(0))], 1.5) == [None]
    # A lone candidate makes every take, however many.
    assert assign([(["A"], np.array([0.9]))] * 3, 1.5) == [0, 0, 0]


def test_one_shopper_s_two_takes_within_one_reach_go_to_two_shoppers():
    # Two steps of one change 0.5 s apart; the evidence of both favours A (seconds of evidence around
    # each take overlap). One reach lasts 2 s: the step where B is the less unlikely goes to B.
    takes = [(["A", "B"], np.array([0.85, 0.15])), (["A", "B"], np.array([0.9, 0.1]))]
    assert assign(takes, 1.5) == [0, 0]  # without times: A makes both
    assert assign(takes, 1.5, times=[10.0, 10.5], one_reach_s=2.0, one_hand_s=0.3) == [1, 0]
    # Further apart than one reach, or closer than one hand's step (one reach, two lines): A's both.
    assert assign(takes, 1.5, times=[10.0, 12.5], one_reach_s=2.0, one_hand_s=0.3) == [0, 0]
    assert assign(takes, 1.5, times=[10.0, 10.1], one_reach_s=2.0, one_hand_s=0.3) == [0, 0]
    # No other candidate: the clash cannot be helped, A makes both.
    alone = [(["A"], np.array([1.0])), (["A"], np.array([1.0]))]
    assert assign(alone, 1.5, times=[10.0, 10.5], one_reach_s=2.0, one_hand_s=0.3) == [0, 0]


def test_the_one_reach_limit_keeps_takes_without_candidates_and_every_shopper_s_other_takes():
    takes = [([], np.zeros(0)), (["A", "B"], np.array([0.7, 0.3])), (["B", "A"], np.array([0.2, 0.8])),
             (["C"], np.array([1.0]))]
    assert assign(takes, 1.5, times=[10.0, 10.0, 10.6, 10.3], one_reach_s=2.0, one_hand_s=0.3) == [None, 1, 1, 0]


def test_the_nearest_shopper_fallback_picks_the_smallest_offset_then_distance_then_vision_s_claim():
    frame = pd.DataFrame([[0.0] * len(FEATURES)] * 3, columns=list(FEATURES), index=["1", "2", "3"])
    frame["offset"] = [0.5, 0.2, 0.2]
    frame["distance_m"] = [0.1, 1.0, 0.8]
    assert NearestShopper().probabilities(frame).tolist() == [0.0, 0.0, 1.0]
    frame["distance_m"] = 1.0
    frame["claim"] = [0.0, 1.0, 0.0]
    assert NearestShopper().probabilities(frame).tolist() == [0.0, 1.0, 0.0]
    assert [e["contribution"] for e in NearestShopper().evidence(frame, 1)] == [None] * 3


# --- fusion -----------------------------------------------------------------------------------------


# The taker leads: a candidate's score is -0.5 x (their offset minus the other's).
LEADER = model(0.0, offset_lead=-0.5)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A1 plate 3 loses a bag of chips at 5.3 s and gets one back at 12.3 s; cam0 sees A1 as in
    test_fusion_presence."""
    root = tmp_path_factory.mktemp("store")
    steps = [Step("A1", 3, 5.3, -120.0), Step("A1", 3, 12.3, +120.0)]
    recording = write_recording(root / "rec", make_log(LogSpec(duration_s=16.0, steps=steps, seed=21)))
    (recording / "store.json").write_text(json.dumps(STORE))
    return recording


@pytest.fixture
def run(tmp_path):
    """A vision run without events: shopper 1 stands centred at plate 3 during the pick and 2 190 px
    off (x 160, in front of plate 1); only 2 stands there when the chips come back, and 2 holds none."""
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [])
    write_tracks(run / "tracks.csv", stands(1, 350, 3.0, 7.0), stands(2, 160, 3.0, 7.0), stands(2, 350, 10.5, 14.0))
    return run


def test_fusion_gives_the_change_to_the_shopper_in_front_with_the_model_s_probability_and_evidence(store, run, tmp_path):
    result = fuse_recording(store, run, tmp_path / "out", model=LEADER)
    (pick,) = [x for x in result.lines if x.action == "pick"]
    lead = -190 / 90  # 2 stood 190 px off, one overlap bound being 90 px
    assert (pick.status, pick.shopper, pick.sku, pick.counted) == ("reached", "1", CHIPS, True)
    score_1, score_2 = -0.5 * lead, -0.5 * -lead
    assert pick.probability == pytest.approx(sigmoid(score_1 - score_2))  # two candidates: a logistic
    assert 0.6 < pick.probability < 0.99
    assert pick.evidence[0] == {"feature": "offset_lead", "value": round(lead, 3), "contribution": round(-0.5 * lead, 3)}
    assert all(set(item) == {"feature", "value", "contribution"} for item in pick.evidence)
    assert len(pick.evidence) == 3
    ((camera, first, last),) = pick.look_at
    assert camera == "cam0" and first < 53 < last  # the bag left at 5.3 s: frame 53
    saved = json.loads((tmp_path / "out" / "receipts.json").read_text())["shoppers"]["1"]["lines"][0]
    assert saved["probability"] == pytest.approx(pick.probability, abs=1e-4)
    assert saved["evidence"] == [dict(e) for e in pick.evidence]
    assert saved["look_at"] == [["cam0", first, last]]


def test_a_line_below_review_below_is_marked_for_review_with_where_to_look(store, run, tmp_path):
    config = FuseConfig(attribution=AttributionConfig(review_below=0.99))
    result = fuse_recording(store, run, tmp_path / "out", config, model=LEADER)
    (pick,) = [x for x in result.lines if x.action == "pick"]
    assert (pick.status, pick.shopper, pick.counted) == ("review", "1", True)
    assert result.receipts["shoppers"]["1"]["items"] == {CHIPS: 1}  # still billed, with the best guess
    flagged = pd.read_csv(tmp_path / "out" / "discrepancies.csv", dtype=str, keep_default_na=False)
    row = flagged[flagged["status"] == "review"].iloc[0]
    camera, first, last = pick.look_at[0]
    assert (row["shopper"], row["sku"], row["camera"]) == ("1", CHIPS, "cam0")
    assert (int(row["first_frame"]), int(row["last_frame"])) == (first, last)
    assert float(row["probability"]) == pytest.approx(pick.probability, abs=1e-4)


def test_the_review_threshold_and_the_model_are_settings_of_the_fuse_config(tmp_path):
    config = FuseConfig.from_dict({"attribution": {"review_below": 0.9, "second_take": 2, "model": "m.json"}})
    assert config.attribution == AttributionConfig(model="m.json", review_below=0.9, second_take=2.0)
    with pytest.raises(FormatError, match=r"unknown key\(s\) review_bellow \(did you mean review_below\?\)"):
        FuseConfig.from_dict({"attribution": {"review_bellow": 0.9}})
    for key, value, problem in (("one_reach_s", -1.0, "one_reach_s must be 0 or more"),
                                ("second_take", -0.5, "second_take must be 0 or more"),
                                ("review_below", 1.5, "review_below must be a probability from 0 to 1")):
        with pytest.raises(FormatError, match=problem):
            FuseConfig.from_dict({"attribution": {key: value}})
    path = tmp_path / "fuse.toml"
    path.write_text('[attribution]\nmodel = "nowhere.json"\n')
    config = FuseConfig.from_file(path)
    assert config.attribution.model == "nowhere.json"
    with pytest.raises(FormatError, match="nowhere.json"):  # a configured model must exist
        resolve_model(config.attribution)


@pytest.mark.parametrize("section", ["presence", "reach"])
def test_a_fuse_config_with_a_removed_section_is_refused_naming_it(tmp_path, section):
    with pytest.raises(FormatError, match=f"removed section\\(s\\) {section} \\(who took an item is decided by "):
        FuseConfig.from_dict({section: {"min_frames": 3}})
    path = tmp_path / "fuse.toml"
    path.write_text(f"[{section}]\nmin_frames = 3\n")
    with pytest.raises(FormatError, match="removed section") as caught:
        FuseConfig.from_file(path)
    assert str(path) in str(caught.value) and section in str(caught.value)


def test_without_a_model_the_nearest_shopper_gets_it_and_the_line_says_so(store, run, tmp_path, monkeypatch):
    monkeypatch.setattr(fusion.attribution, "DEFAULT_MODEL", tmp_path / "missing.json")
    result = fuse_recording(store, run, tmp_path / "out")
    (pick,) = [x for x in result.lines if x.action == "pick"]
    assert (pick.status, pick.shopper, pick.probability) == ("reached", "1", None)
    assert "no attribution model: nearest shopper" in pick.reason
    assert [(e["feature"], e["value"], e["contribution"]) for e in pick.evidence] == [
        ("offset", 0.0, None), ("distance_m", MAX_DISTANCE_M, None), ("claim", 0.0, None)]


@pytest.mark.parametrize("chosen", [LEADER, NearestShopper()], ids=["model", "nearest"])
def test_a_return_of_a_product_nobody_near_holds_is_an_uncounted_unattributed_line(store, run, tmp_path, chosen):
    result = fuse_recording(store, run, tmp_path / "out", model=chosen)
    (back,) = [x for x in result.lines if x.action == "return"]
    assert (back.status, back.shopper, back.sku, back.counted, back.probability) == (
        "unattributed", None, CHIPS, False, None)
    assert result.receipts["unattributed"]["items"] == {}  # not billed, not credited
    assert result.receipts["shoppers"]["1"]["items"] == {CHIPS: 1}


@pytest.mark.parametrize("holder_stays", [False, True], ids=["nobody-holds", "a-holder-elsewhere"])
def test_a_return_nobody_near_makes_counts_only_if_some_shopper_holds_the_product(store, tmp_path, holder_stays):
    """Shoppers are tracked, but nobody stands at the plate when it gains a bag of chips (the real
    AiFi case: a +10.8 g wobble on a plate of a 10 g product nobody took). Unless some shopper in
    the store holds chips, it is a wobble, not a return: not billed, not credited."""
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [])
    picker = stands(1, 350, 3.0, 7.0) if holder_stays else stands(1, 640, 3.0, 7.0)  # at plate 3, or far off
    write_tracks(run / "tracks.csv", picker, stands(2, 640, 10.5, 14.0))  # nobody near plate 3 at 12.3 s
    result = fuse_recording(store, run, tmp_path / "out", model=LEADER)
    (back,) = [x for x in result.lines if x.action == "return"]
    assert (back.status, back.shopper, back.sku) == ("unattributed", None, CHIPS)
    assert back.counted is holder_stays


def test_with_no_tracks_nor_hands_a_change_vision_saw_nobody_make_stays_unattributed(store, tmp_path):
    events = write_events(tmp_path / "events.csv", [])
    result = fuse_recording(store, events, tmp_path / "out", model=LEADER)
    assert [(x.status, x.shopper, x.probability, x.look_at) for x in result.lines] == [
        ("unattributed", None, None, ())] * 2


def test_a_return_of_a_product_told_wrong_becomes_the_one_its_shopper_holds():
    """Two cans of nearly one weight. Shopper 2 took a lemon soda, 1 a cola; vision says 2 put back a
    cola, which 2 does not hold. The weight (+369 g) fits 2's lemon soda too: 2 put back the lemon
    soda. When 2 holds the cola, the line stands; when 2 holds nothing the weight fits, the return
    is not billed to anybody."""
    cola, lemon, water = "0101", "0102", "0103"
    catalog = pd.DataFrame({"sku": [cola, lemon, water], "name": ["Cola", "Lemon", "Water"],
                            "weight_g": [368.0, 372.0, 1040.0], "weight_std_g": [0.0, 0.0, 0.0]})
    planogram = pd.DataFrame({"shelf": ["A1", "A1", "A1"], "plate": [1, 2, 4], "sku": [cola, lemon, water]})

    def event(name, plate, at_s, grams):
        return WeightEvent(name, "A1", (plate,), T0 + at_s, T0 + at_s + 0.5, grams, (grams,), 1.0)

    def fused(first_pick, first_grams, first_plate):
        events = [event("w1", first_plate, 2.0, first_grams), event("w2", 1, 4.0, -368.0),
                  event("w3", 1, 10.0, 369.0)]
        vision = pd.DataFrame({
            "timestamp": [T0 + 2.1, T0 + 4.1, T0 + 10.1], "shopper": ["2", "1", "2"],
            "action": ["pick", "pick", "return"], "sku": [first_pick, cola, cola], "quantity": [1, 1, 1],
            "shelf": ["A1"] * 3, "plates": [str(first_plate), "1", "1"], "confidence": [1.0] * 3})
        lines = reconcile(events, vision, catalog, planogram, model=NearestShopper())
        return next(x for x in lines if x.action == "return")

    back = fused(lemon, -372.0, 2)
    assert (back.shopper, back.sku, back.counted, back.vision["sku"]) == ("2", lemon, True, cola)
    back = fused(cola, -368.0, 1)  # 2 took a cola: vision's return stands
    assert (back.status, back.shopper, back.sku, back.counted) == ("confirmed", "2", cola, True)
    back = fused(water, -1040.0, 4)  # 2 holds only a water: nobody near holds what came back
    assert (back.status, back.shopper, back.sku, back.counted) == ("unattributed", None, cola, False)


def test_each_step_of_a_change_is_a_take_given_to_who_reached_then(tmp_path):
    """Three bags leave plate 3 in two steps 1.2 s apart; both shoppers stand in front. With a model
    trusting reach timing, each step's items go to the shopper whose reach had its middle then,
    stamped with the step's time; vision's claim counts for the step nearest its time only."""
    steps = [Step("A1", 3, 5.3, -240.0), Step("A1", 3, 6.5, -120.0)]
    recording = write_recording(tmp_path / "rec", make_log(LogSpec(duration_s=10.0, steps=steps, seed=14)))
    (recording / "store.json").write_text(json.dumps(STORE))
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [(5.2, "1", "pick", CHIPS, 1, "A1")])  # vision saw shopper 1 take one bag
    timing = model(1.0, reach_off_s=-4.0)
    for reaches, expected in (({1: (5.0, 5.6), 2: (6.2, 6.8)}, [("1", 2, 5.3), ("2", 1, 6.5)]),
                              ({1: (6.2, 6.8), 2: (5.0, 5.6)}, [("1", 1, 6.5), ("2", 2, 5.3)])):
        groups = []
        for shopper, x in ((1, 330), (2, 370)):
            lo, hi = reaches[shopper]
            groups += [([row], 0.95 if lo <= row[0] / FPS <= hi else 0.05) for row in stands(shopper, x, 3.0, 9.5)]
        reaching_tracks(run / "tracks.csv", *groups)
        result = fuse_recording(recording, run, tmp_path / "out", model=timing)
        got = sorted((x.shopper, x.quantity, x.timestamp - T0) for x in result.lines if x.counted)
        assert [(s, q) for s, q, _ in got] == [(s, q) for s, q, _ in expected]
        assert [t for _, _, t in got] == pytest.approx([t for _, _, t in expected], abs=0.15)
        assert all(x.probability > 0.9 for x in result.lines)
        # Vision's event (at 5.2 s) saw the first step: that line is vision's, corrected (it said one
        # bag of the three); the second step is the weights' alone, without vision's claim.
        by_time = sorted(result.lines, key=lambda x: x.timestamp)
        assert [(x.status, x.vision is not None) for x in by_time] == [("corrected", True), ("reached", False)]


def test_a_change_of_two_products_in_steps_is_a_take_per_step_each_of_one_product(tmp_path):
    """A bag of chips leaves plate 3 at 5.3 s, two bars plate 4 at 5.9 s, another bag plate 3 at 6.5 s:
    one weight change of two products. Shopper 1 stands at plate 3 until 5.7 s, shopper 2 from 5.9 s,
    shopper 3 at plate 4 throughout. Each step is its own take, timed at the step: each bag goes to
    who stood there then (one take per product gave both bags to one of them)."""
    steps = [Step("A1", 3, 5.3, -120.0), Step("A1", 4, 5.9, -100.0), Step("A1", 3, 6.5, -120.0)]
    recording = write_recording(tmp_path / "rec", make_log(LogSpec(duration_s=10.0, steps=steps, seed=21)))
    (recording / "store.json").write_text(json.dumps(STORE))
    run = tmp_path / "run"
    run.mkdir()
    write_events(run / "events.csv", [])
    write_tracks(run / "tracks.csv", stands(1, 350, 3.0, 5.7), stands(1, 150, 5.8, 9.0), stands(2, 150, 3.0, 5.8),
                 stands(2, 350, 5.9, 9.0), stands(3, 450, 3.0, 9.0))
    result = fuse_recording(recording, run, tmp_path / "out", model=LEADER)
    (event,) = result.weight_events
    assert len(event.steps) == 3
    carts = {shopper: receipt["items"] for shopper, receipt in result.receipts["shoppers"].items()}
    assert carts == {"1": {CHIPS: 1}, "2": {CHIPS: 1}, "3": {"0003": 2}}



def _least_cost(takes, second_take, times, one_reach_s, one_hand_s):
    """The assignment objective by brute force: every combination of candidates, its summed cost."""
    best, best_cost = None, np.inf
    for combo in itertools.product(*(range(len(names)) for names, _ in takes)):
        who = [takes[r][0][k] for r, k in enumerate(combo)]
        cost = sum(-np.log(max(takes[r][1][k], 1e-6)) for r, k in enumerate(combo))
        cost += second_take * (len(who) - len(set(who)))
        cost += CLASH * sum(who[a] == who[b] for a, b in itertools.combinations(range(len(who)), 2)
                            if one_hand_s <= abs(times[a] - times[b]) < one_reach_s)
        if cost < best_cost - 1e-9:
            best, best_cost = list(combo), cost
    return best, best_cost


def test_the_joint_assignment_is_the_least_cost_one():
    # Random moments of 2-4 takes among 4 shoppers, some within one reach of each other: the assignment's
    # cost is the least of every possible assignment's (found by trying them all).
    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(2, 5))
        takes = []
        for _ in range(n):
            names = list(rng.choice(["A", "B", "C", "D"], size=int(rng.integers(1, 4)), replace=False))
            p = rng.dirichlet(np.ones(len(names)))
            takes.append((names, p))
        times = np.sort(rng.uniform(0, 4, n)).tolist()
        chosen = assign(takes, 1.5, times, one_reach_s=2.0, one_hand_s=0.3)
        _, least = _least_cost(takes, 1.5, times, 2.0, 0.3)
        cost = sum(-np.log(max(takes[r][1][k], 1e-6)) for r, k in enumerate(chosen))
        who = [takes[r][0][k] for r, k in enumerate(chosen)]
        cost += 1.5 * (len(who) - len(set(who)))
        cost += CLASH * sum(who[a] == who[b] for a, b in itertools.combinations(range(n), 2)
                            if 0.3 <= abs(times[a] - times[b]) < 2.0)
        assert cost == pytest.approx(least, abs=1e-6)


def test_a_moment_of_many_takes_keeps_the_one_reach_limit():
    # Eight takes of five candidates each (390,625 assignments): takes 0 and 1, 0.5 s apart, both favour A;
    # the other six each have their own shopper. One reach: take 0 goes to B, its less unlikely other.
    takes = [(["A", "B", "C", "D", "E"], np.array([0.85, 0.12, 0.01, 0.01, 0.01])),
             (["A", "B", "C", "D", "E"], np.array([0.9, 0.07, 0.01, 0.01, 0.01]))]
    takes += [([f"S{r}", "A", "B", "C", "D"], np.array([0.96, 0.01, 0.01, 0.01, 0.01])) for r in range(6)]
    times = [10.0, 10.5, *(20.0 + 3 * r for r in range(6))]
    assert assign(takes, 1.5, times, one_reach_s=2.0, one_hand_s=0.3) == [1, 0, 0, 0, 0, 0, 0, 0]


def test_every_take_after_a_shopper_s_first_costs_the_second_take_penalty():
    # Three takes A is likelier for (0.6 each) and B plausible for: A's third take would cost a second
    # penalty, more than giving it to B (-log 0.4 + log 0.6 = 0.41).
    takes = [(["A", "B"], np.array([0.6, 0.4]))] * 3
    chosen = assign(takes, 1.5)
    assert sorted(chosen) == [0, 0, 1]
    assert assign(takes, 0.2) == [0, 0, 0]  # a small penalty: A makes all three
