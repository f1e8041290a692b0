"""Joining tracklets into shoppers from the association model's evidence (vision.shoppers:
model_evidence, evidence_clusters): every pair of a shopper counts, not only the strongest link."""

from __future__ import annotations

import numpy as np

from vision.shoppers import Tracklet, cluster, evidence_clusters, model_evidence


def tracklets(*starts: float) -> list[Tracklet]:
    return [Tracklet(f"cam{k}", 1, np.array([s, s + 1.0]), np.zeros((2, 2))) for k, s in enumerate(starts)]


def evidence(n: int, pairs: dict[tuple[int, int], float]) -> np.ndarray:
    out = np.zeros((n, n))
    for (i, j), w in pairs.items():
        out[i, j] = out[j, i] = w
    return out


def test_one_confident_link_does_not_chain_two_people_whose_other_pairs_say_they_are_two():
    # 1 and 2 are surely one person; 0 looks like 1 but clearly is not 2 (seen at once, apart).
    pieces = tracklets(0.0, 0.0, 0.0)
    groups = evidence_clusters(pieces, evidence(3, {(1, 2): 2.5, (0, 1): 2.0, (0, 2): -3.0}))
    assert groups == [[0], [1, 2]]
    # The links-first clustering of the rules joins all three along the two links.
    assert cluster(pieces, [(-2.5, 1, 2), (-2.0, 0, 1)], set()) == [[0, 1, 2]]


def test_a_tracklet_joined_early_to_the_wrong_shopper_moves_to_the_one_its_evidence_favours():
    # 2 joins 0 first (their pair is the strongest), but with 1 in that shopper too it is better off
    # with 3 (3 itself is never joined to the others: its pairs with 0 and 1 are against it).
    pieces = tracklets(0.0, 1.0, 2.0, 3.0)
    groups = evidence_clusters(pieces, evidence(4, {(0, 2): 3.0, (0, 1): 2.9, (1, 2): -0.5, (2, 3): 2.8,
                                                    (0, 3): -2.0, (1, 3): -2.0}))
    assert groups == [[0, 1], [2, 3]]


def test_must_stay_apart_pairs_never_share_a_shopper_however_strong_the_rest():
    pieces = tracklets(0.0, 0.0, 0.0)
    groups = evidence_clusters(pieces, evidence(3, {(0, 1): 5.0, (1, 2): 5.0, (0, 2): -np.inf}))
    assert len(groups) == 2 and all(not {0, 2} <= set(g) for g in groups)


def test_shoppers_come_in_order_of_first_sight():
    pieces = tracklets(5.0, 1.0, 3.0)
    assert evidence_clusters(pieces, evidence(3, {})) == [[1], [2], [0]]
    assert evidence_clusters([], np.zeros((0, 0))) == []


def test_evidence_is_log_odds_against_the_link_threshold_and_an_unlikely_continuation_is_no_evidence_of_two():
    thresholds = {"together": 0.2, "gap": 0.05, "apart": 0.005}
    scored = {"together": ([(0, 1), (0, 2), (1, 3)], None), "gap": ([(2, 3), (1, 2)], None)}
    probabilities = {"together": np.array([0.2, 0.05, 0.001]), "gap": np.array([0.5, 0.01])}
    e = model_evidence(5, {(3, 4)}, scored, probabilities, thresholds)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert e[0, 1] == e[1, 0] == 0.0  # at the threshold: no evidence either way
    assert np.isclose(e[0, 2], logit(0.05) - logit(0.2)) and e[0, 2] < 0  # seen together, unlikely one: two
    assert e[1, 3] == -np.inf  # below the apart threshold: surely two
    assert np.isclose(e[2, 3], logit(0.5) - logit(0.05))  # a likely continuation
    assert e[1, 2] == 0.0  # an unlikely continuation: nothing against one person
    assert e[3, 4] == -np.inf  # one camera at once
    assert e[0, 4] == 0.0  # never scored


def test_a_link_bias_shifts_every_scored_pair_but_never_what_is_surely_two_people():
    thresholds = {"together": 0.2, "gap": 0.05, "apart": 0.005}
    scored = {"together": ([(0, 1), (1, 3)], None), "gap": ([(2, 3), (1, 2)], None)}
    probabilities = {"together": np.array([0.2, 0.001]), "gap": np.array([0.5, 0.01])}
    plain = model_evidence(5, {(3, 4)}, scored, probabilities, thresholds)
    joined = model_evidence(5, {(3, 4)}, scored, probabilities, thresholds, bias=0.9)
    split = model_evidence(5, {(3, 4)}, scored, probabilities, thresholds, bias=-0.9)
    assert joined[0, 1] == 0.9 and split[0, 1] == -0.9  # at the threshold: the bias alone
    assert np.isclose(joined[2, 3], plain[2, 3] + 0.9) and np.isclose(split[2, 3], plain[2, 3] - 0.9)
    assert joined[1, 2] == 0.0  # logit(0.01) - logit(0.05) + 0.9 is still below 0: no link
    assert split[1, 2] == 0.0  # a continuation is never evidence of two people, whatever the bias
    assert joined[1, 3] == joined[3, 4] == -np.inf  # below the apart threshold, one camera at once
    assert joined[0, 4] == 0.0  # never scored
