"""The cross-camera association model: a fitted P(same shopper) per pair of floor tracklets, its file,
and how `walkout train --only association` fits it and its thresholds from truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vision.association import DEFAULT_MODEL, FEATURES, load_model
from vision.errors import InputError
from vision.shoppers import ShopperConfig, Tracklet, associate, scored_pairs
from walkout.association_training import (
    AssociationTrainingConfig,
    Source,
    association_idf1,
    best_thresholds,
    fit,
    out_of_fold,
    pair_rows,
)

T0 = 1_700_000_000.0


def tracklet(camera: str, track_id: int, start_s: float, end_s: float, xy0, velocity=(0.8, 0.0), noise_m=0.05,
             rng=None, look=None) -> Tracklet:
    t = np.arange(start_s, end_s, 0.1)
    xy = np.asarray(xy0, float) + (t - start_s)[:, None] * np.asarray(velocity, float)
    if rng is not None:
        xy = xy + rng.normal(0, noise_m, xy.shape)
    return Tracklet(camera, track_id, T0 + t, xy, look=look)


def look(rng, base: np.ndarray | None = None, spread: float = 0.15) -> np.ndarray:
    """A colour histogram (64 bins summing to 1): a new one, or ``base`` as another camera sees it."""
    h = rng.dirichlet(np.full(64, 0.3)) if base is None else base * rng.uniform(1 - spread, 1 + spread, 64)
    return h / h.sum()


def synthetic_store(seed: int) -> Source:
    """Three shoppers walking the store, each seen by two cameras at once (their floor points about
    0.5 m apart, as head points of one person from two cameras are), then out of every view for
    2-8 s, then seen again further along; a truth shopper per tracklet."""
    rng = np.random.default_rng(seed)
    tracklets, truth = [], []
    for shopper, y in enumerate((1.0, 3.5, 6.0), start=1):
        x0, t0 = rng.uniform(0, 2), rng.uniform(0, 3)
        offset = rng.uniform(-0.5, 0.5, 2)
        colours = look(rng)
        first = tracklet("cam0", shopper, t0, t0 + 5, (x0, y), rng=rng, look=look(rng, colours))
        second = tracklet("cam1", 10 + shopper, t0 + 1, t0 + 5, first.xy[10] + offset, rng=rng, look=look(rng, colours))
        gap = rng.uniform(2, 8)
        start = t0 + 5 + gap
        third = tracklet("cam2", 20 + shopper, start, start + 5, (x0 + 0.8 * (5 + gap) * 0.5, y), rng=rng,
                         look=look(rng, colours))
        for t in (first, second, third):
            tracklets.append(t)
            truth.append(str(shopper))
    return Source(f"synthetic{seed}", "truth boxes", tuple(tracklets), tuple(truth))


def test_the_shipped_model_loads_and_scores_both_kinds_of_pair():
    model = load_model(DEFAULT_MODEL)
    near, far = model.probability("together", np.array([[0.3, 0.5, np.log1p(5.0), 0.2],
                                                         [2.5, 3.0, np.log1p(5.0), 0.2]]))
    assert near > 0.5 > far
    soon, late = model.probability("gap", np.array([[np.log1p(1.0), 0.5, 0.25, 0, 1, 1, 0.2],
                                                     [np.log1p(25.0), 0.5, 0.01, 0, 1, 1, 0.2]]))
    assert soon > late
    alike, unlike = model.probability("gap", np.array([[np.log1p(5.0), 2.0, 0.25, 0, 1, 1, 0.1],
                                                        [np.log1p(5.0), 2.0, 0.25, 0, 1, 1, 0.7]]))
    assert alike > unlike  # the same walk back into view: likelier the same shopper when the colours match
    assert set(model.thresholds) == {"together", "gap", "apart"}


def test_a_pair_without_looks_is_scored_on_where_and_when_alone():
    """No look (the identity repair off, or a track never described): the pair gets the model fitted
    without the colour distance, not a colour distance made up for it."""
    model = load_model(DEFAULT_MODEL)
    for kind in ("together", "gap"):
        seen = model.kinds[kind].mean.copy()
        unseen = np.append(seen[:-1], np.nan)
        alone = model.kinds[kind + "_without_look"]
        assert alone.features == model.kinds[kind].features[:-1]
        both = model.probability(kind, np.vstack([seen, unseen]))
        assert both[0] == pytest.approx(model.kinds[kind].probability(seen[None])[0])
        assert both[1] == pytest.approx(alone.probability(seen[None, :-1])[0])


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.update(version=99), "version"),
    (lambda d: d["models"].pop("gap"), "models.gap"),
    (lambda d: d["models"]["together"].update(features=["median_m"]), "models.together.features"),
    (lambda d: d["models"].pop("gap_without_look"), "models.gap_without_look"),
    (lambda d: d["models"]["gap"].update(coef=[1.0]), "models.gap"),
    (lambda d: d["thresholds"].update(gap=1.5), "thresholds"),
])
def test_a_broken_model_file_is_refused_naming_the_file_and_the_field(tmp_path, change, field):
    data = json.loads(DEFAULT_MODEL.read_text())
    change(data)
    path = tmp_path / "association.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=rf"association.json: {field}"):
        load_model(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="association.json: not JSON"):
        load_model(path)


def test_pairs_are_scored_as_together_or_gap_and_one_camera_at_once_is_two_people():
    rng = np.random.default_rng(0)
    a = tracklet("cam0", 1, 0, 5, (0, 0), rng=rng)
    b = tracklet("cam1", 2, 1, 6, (0.8, 0.1), rng=rng)  # seen with a for 4 s
    c = tracklet("cam0", 3, 8, 12, (5.5, 0), rng=rng)  # after both, 2 s after b ended
    d = tracklet("cam0", 4, 2, 4, (3, 9), rng=rng)  # cam0 again, while a is seen; 9 m from c
    apart, scored = scored_pairs([a, b, c, d], ShopperConfig())
    assert (0, 3) in apart
    assert scored["together"][0] == [(0, 1), (1, 3)]
    assert scored["together"][1].shape == (2, len(FEATURES["together"]))
    gaps = dict(zip(scored["gap"][0], scored["gap"][1].tolist(), strict=True))
    assert set(gaps) == {(0, 2), (1, 2)}  # d -> c: 9 m in 4 s is further than anyone walks
    log_gap, step, share, same_camera, nearest_next, nearest_before, colours = gaps[(1, 2)]
    assert np.isnan(colours)  # these tracklets have no looks
    assert np.expm1(log_gap) == pytest.approx(2.0, abs=0.11) and same_camera == 0.0
    assert step == pytest.approx(np.hypot(*(c.xy[0] - b.xy[-1])))
    assert share == pytest.approx(step / (0.5 + 1.5 * np.expm1(log_gap)))
    assert nearest_before == 1.0 and nearest_next == 1.0


def test_a_model_fitted_on_truth_joins_each_shopper_across_cameras_and_gaps_and_no_one_else():
    config = AssociationTrainingConfig()
    sources = [synthetic_store(seed) for seed in range(8)]
    rows = pd_concat([pair_rows(s) for s in sources])
    assert set(rows["kind"]) == {"together", "gap"} and rows["label"].isin([0, 1]).all()
    oof = out_of_fold(sources, rows, config)
    thresholds = best_thresholds(oof)
    model = fit(rows, config, thresholds=thresholds)
    unseen = synthetic_store(99)
    groups = associate(list(unseen.tracklets), ShopperConfig(), model)
    assert sorted(sorted(unseen.truth[k] for k in g) for g in groups) == [["1"] * 3, ["2"] * 3, ["3"] * 3]
    matched, seconds = association_idf1(unseen, groups)
    assert matched == pytest.approx(seconds)
    rules = associate(list(unseen.tracklets), ShopperConfig(model="rules"))
    assert association_idf1(unseen, rules)[0] <= matched


def pd_concat(tables):
    import pandas as pd

    return pd.concat(tables, ignore_index=True)


def test_a_vision_track_is_labelled_with_the_truth_shopper_it_overlaps_best_in_most_frames():
    import pandas as pd

    from walkout.association_training import track_owners

    # track 1 covers shopper 7 for three frames and shopper 8 for one; track 2 never overlaps anyone
    tracks = pd.DataFrame({"frame": [0, 1, 2, 3, 0], "track_id": [1, 1, 1, 1, 2],
                           "x1": [0, 0, 0, 100, 300], "y1": [0, 0, 0, 0, 0],
                           "x2": [50, 50, 50, 150, 350], "y2": [100, 100, 100, 100, 100]})
    truth = pd.DataFrame({"frame": [0, 1, 2, 3, 3], "track_id": [7, 7, 7, 7, 8],
                          "x1": [2, 2, 2, 0, 100], "y1": [0, 0, 0, 0, 0],
                          "x2": [52, 52, 52, 50, 150], "y2": [100, 100, 100, 100, 100]})
    assert track_owners(tracks, truth, iou=0.5) == {1: "7"}
    assert track_owners(tracks, truth.iloc[:0], iou=0.5) == {}
