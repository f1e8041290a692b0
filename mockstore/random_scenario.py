"""Random scenarios: a seed and a few knobs -> a scripted :class:`Scenario` that always compiles."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from mockstore.scenario import Knobs, Scenario, ScenarioError, ShopperSpec, Step, StoreSpec, store_spec
from mockstore.scene import Item, Layout, path_length_m, plate_runs
from mockstore.script import ScriptConfig, compile_scenario, initial_state


@dataclass(frozen=True)
class Behaviour:
    """Behaviour knobs of random shoppers (probabilities per shopper or per action).

    Store layout: each shopper visits ``min_aisles``..all aisles (in random order) with 1..max_actions
    actions in each; ``same_shelf`` is the chance a shopper enters just after the previous one
    (``group_gap_s``) and starts at the same shelf; ``same_look`` the share of shoppers (after the
    first) who wear the shirt and trouser colours of an earlier one.
    """

    max_actions: int = 4
    same_shelf: float = 0.3
    crossing: float = 0.5
    returns: float = 0.25
    wrong_return: float = 0.3
    double_pick: float = 0.2
    hold: float = 0.3
    min_aisles: int = 2
    same_look: float = 0.33
    group_gap_s: tuple[float, float] = (0.3, 2.0)


def random_scenario(seed: int, *, n_shoppers: int = 2, duration_s: float = 20.0, n_cameras: int = 1,
                    fps: float = 10.0, width_px: int = 640, height_px: int = 360, knobs: Knobs | None = None,
                    behaviour: Behaviour | None = None, store: StoreSpec | None = None,
                    name: str | None = None, layout: str = "aisle", aisles: int = 2) -> Scenario:
    """A random but valid scenario; the same arguments always give the same scenario.

    ``layout="store"``: a walled store of ``aisles`` aisles (or ``store`` if given) whose shoppers
    come in through the entrance, shop in several aisles and leave through the exit.
    """
    behaviour = behaviour or Behaviour()
    rng = np.random.default_rng([seed, 4242])
    if store is None:
        store = store_spec(aisles) if layout == "store" else StoreSpec()
    base = Scenario(name=name or f"mock-{seed:04d}", seed=seed, duration_s=duration_s, fps=fps, width_px=width_px,
                    height_px=height_px, store=store, n_cameras=n_cameras,
                    knobs=knobs or Knobs(), source=f"<random seed {seed}>")
    geometry, planogram, items = initial_state(base)
    base = replace(base, planogram=planogram)
    if geometry.is_store:
        shoppers = _store_shoppers(base, geometry, planogram, items, rng, n_shoppers, behaviour, ScriptConfig())
        return _compiling(replace(base, shoppers=tuple(shoppers)), ScriptConfig())
    gondolas = base.store.gondolas if n_cameras >= 2 or len(base.store.gondolas) == 1 else ("B",)
    count, run_of = _plate_stock(base, geometry, planogram, items)
    targets = [(s, p) for (s, p) in run_of if s[0] in gondolas]
    config = ScriptConfig()
    shoppers = []
    previous_first: tuple[str, int] | None = None
    for k in range(n_shoppers):
        side = "left" if k % 2 == 0 or rng.random() > behaviour.crossing else "right"
        if rng.random() < behaviour.crossing:
            side = "left" if k % 2 == 0 else "right"
        t_enter = float(rng.uniform(0, max(duration_s * 0.35, 0.1)))
        steps = [Step("enter", at_s=round(t_enter, 2), side=side)]
        t_est = t_enter
        pos_x = -config.exit_margin_m if side == "left" else base.store.aisle_length_m + config.exit_margin_m
        held: list[tuple[str, str, int]] = []
        for a in range(int(rng.integers(1, behaviour.max_actions + 1))):
            if a == 0 and previous_first is not None and rng.random() < behaviour.same_shelf:
                shelf = previous_first[0]
                plate = min(max(previous_first[1] + int(rng.choice([-1, 1])), 1), base.store.plates_per_shelf)
            else:
                shelf, plate = targets[int(rng.integers(len(targets)))]
            plates, sku = run_of[(shelf, plate)]
            do_return = held and rng.random() < behaviour.returns
            x = geometry.plate_x_m(plate)[0] + geometry.plate_width_m / 2
            cost = abs(x - pos_x) / config.walk_speed_m_s + 1.2 + config.turn_s + config.reach_s
            if t_est + cost + 4.0 > duration_s:
                break
            if do_return:
                r_sku, r_shelf, r_plate = held.pop(int(rng.integers(len(held))))
                if rng.random() >= behaviour.wrong_return:
                    shelf, plate = r_shelf, r_plate
                    x = geometry.plate_x_m(plate)[0] + geometry.plate_width_m / 2
                steps.append(Step("return", shelf=shelf, plate=plate, sku=r_sku))
            else:
                quantity = 2 if rng.random() < behaviour.double_pick else 1
                if min(count.get((shelf, p), 0) for p in plates) < quantity:
                    continue
                for p in plates:
                    count[(shelf, p)] -= quantity
                steps.append(Step("pick", shelf=shelf, plate=plate, sku=sku, quantity=quantity))
                held += [(sku, shelf, plate)] * quantity
            if a == 0:
                previous_first = (shelf, plate)
            t_est += abs(x - pos_x) / config.walk_speed_m_s + config.turn_s + config.reach_s
            pos_x = x
            if rng.random() < behaviour.hold:
                hold = round(float(rng.uniform(0.3, 1.5)), 2)
                steps.append(Step("hold", duration_s=hold))
                t_est += hold
        if t_est + 3.0 < duration_s:
            steps.append(Step("leave", side="right" if rng.random() < 0.5 else "left"))
        shoppers.append(ShopperSpec(k + 1, tuple(steps)))
    return _compiling(replace(base, shoppers=tuple(shoppers)), config)


def _compiling(scenario: Scenario, config: ScriptConfig, attempts: int = 20) -> Scenario:
    """The scenario, with the steps compiling complains about dropped (no shoppers if that fails)."""
    for _ in range(attempts):
        try:
            compile_scenario(scenario, config)
            return scenario
        except ScenarioError as exc:
            scenario = _drop_step(scenario, exc)
    return replace(scenario, shoppers=())


def _plate_stock(base: Scenario, layout: Layout, planogram, items: list[Item]):
    """(items per (shelf, plate), (plates, sku) of the run each (shelf, plate) belongs to)."""
    count: dict[tuple[str, int], int] = {}
    for it in items:
        product = base.product(it.sku)
        for plate in layout.plate_shares(it.x_m, product.width_m):
            count[(it.shelf, plate)] = count.get((it.shelf, plate), 0) + 1
    run_of = {}
    for shelf, plates, sku in plate_runs(planogram):
        for p in plates:
            run_of[(shelf, p)] = (plates, sku)
    return count, run_of


def _store_shoppers(base: Scenario, layout: Layout, planogram, items: list[Item], rng: np.random.Generator,
                    n_shoppers: int, behaviour: Behaviour, config: ScriptConfig) -> list[ShopperSpec]:
    """Random store-layout scripts: enter, visit several aisles (picks, returns, holds), leave."""
    store, duration_s = base.store, base.duration_s
    count, run_of = _plate_stock(base, layout, planogram, items)
    by_aisle: dict[int, list[tuple[str, int]]] = {}
    for shelf, plate in sorted(run_of):
        by_aisle.setdefault(layout.aisle_of(shelf), []).append((shelf, plate))
    entrance, exit_ = layout.entrance_xy(), layout.exit_xy()
    outside = (entrance[0] - config.exit_margin_m, entrance[1])
    leave_to = (exit_[0] + config.exit_margin_m, exit_[1])
    speed = config.walk_speed_m_s

    def stand(shelf: str, plate: int) -> tuple[float, float]:
        x = layout.plate_x_m(plate)[0] + layout.plate_width_m / 2
        centre = layout.aisle_centre_y_m(layout.aisle_of(shelf))
        return x, centre + layout.gondola_sign(shelf) * (layout.half_aisle_m - config.stand_offset_m)

    def walk_s(a: tuple[float, float], b: tuple[float, float]) -> float:
        return path_length_m([a, *layout.route_m(a, b)]) / speed

    shoppers: list[ShopperSpec] = []
    previous: tuple[float, tuple[str, int]] | None = None
    for k in range(n_shoppers):
        group = previous is not None and rng.random() < behaviour.same_shelf
        if group:
            t_enter = previous[0] + float(rng.uniform(*behaviour.group_gap_s))
        else:
            t_enter = float(rng.uniform(0, max(duration_s * 0.35, 0.1)))
        n_visit = int(rng.integers(min(behaviour.min_aisles, store.aisles), store.aisles + 1))
        order = [int(a) for a in rng.permutation(store.aisles)][:n_visit]
        first: tuple[str, int] | None = None
        if group:
            shelf, plate = previous[1]
            first = (shelf, min(max(plate + int(rng.integers(-1, 2)), 1), store.plates_per_shelf))
            order = [layout.aisle_of(shelf)] + [a for a in order if a != layout.aisle_of(shelf)][: n_visit - 1]
        steps = [Step("enter", at_s=round(t_enter, 2))]
        t_est, pos = t_enter, outside
        held: list[tuple[str, str, int]] = []
        full = False
        for aisle in order:
            for _ in range(int(rng.integers(1, behaviour.max_actions + 1))):
                shelf, plate = first if first is not None else by_aisle[aisle][int(rng.integers(len(by_aisle[aisle])))]
                first = None
                plates, sku = run_of[(shelf, plate)]
                taken = held[int(rng.integers(len(held)))] if held and rng.random() < behaviour.returns else None
                if taken is not None:
                    if rng.random() >= behaviour.wrong_return:
                        shelf, plate = taken[1], taken[2]
                    step = Step("return", shelf=shelf, plate=plate, sku=taken[0])
                else:
                    quantity = 2 if rng.random() < behaviour.double_pick else 1
                    if min(count.get((shelf, p), 0) for p in plates) < quantity:
                        continue
                    step = Step("pick", shelf=shelf, plate=plate, sku=sku, quantity=quantity)
                spot = stand(shelf, plate)
                cost = walk_s(pos, spot) + config.turn_s + config.reach_s
                if t_est + cost + walk_s(spot, leave_to) + 2.0 > duration_s:
                    full = True
                    break
                if taken is not None:
                    held.remove(taken)
                else:
                    for p in plates:
                        count[(shelf, p)] -= step.quantity
                    held += [(sku, shelf, plate)] * step.quantity
                if previous is None or (not group and len(steps) == 1):
                    previous = (t_enter, (shelf, plate))  # where the next shopper may join this one
                steps.append(step)
                t_est += cost
                pos = spot
                if rng.random() < behaviour.hold:
                    hold = round(float(rng.uniform(0.3, 1.5)), 2)
                    steps.append(Step("hold", duration_s=hold))
                    t_est += hold
            if full:
                break
        if len(steps) == 1:  # no time for shopping: at least walk into the first aisle
            shelf, plate = by_aisle[order[0]][int(rng.integers(len(by_aisle[order[0]])))]
            steps.append(Step("walk", shelf=shelf, plate=plate))
        steps.append(Step("leave"))
        shoppers.append(ShopperSpec(k + 1, tuple(steps)))
    # round(same_look * (n - 1)) of shoppers 2..n wear the colours of an earlier shopper (not a copier).
    copiers = sorted(int(i) for i in rng.choice(np.arange(1, n_shoppers), size=round(behaviour.same_look * (
        n_shoppers - 1)), replace=False)) if n_shoppers > 1 else []
    for i in copiers:
        originals = [j for j in range(i) if j not in copiers]
        shoppers[i] = replace(shoppers[i], same_look_as=shoppers[originals[int(rng.integers(len(originals)))]].id)
    return shoppers


def _drop_step(scenario: Scenario, exc: ScenarioError) -> Scenario:
    """Remove the script step an error points at (and the ones after it, but keep a final leave)."""
    where = exc.where
    si = int(where.split("[")[1].split("]")[0])
    j = int(where.split("[")[2].split("]")[0]) if where.count("[") > 1 else 1
    spec = scenario.shoppers[si]
    kept = list(spec.script[: max(j, 1)])
    shoppers = list(scenario.shoppers)
    shoppers[si] = replace(spec, script=tuple(kept))
    return replace(scenario, shoppers=tuple(shoppers))


def scenario_frames(scenario: Scenario) -> int:
    return int(math.floor(scenario.duration_s * scenario.fps + 0.5))
