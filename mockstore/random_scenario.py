"""Random scenarios: a seed and a few knobs -> a scripted :class:`Scenario` that always compiles."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from mockstore.scenario import Knobs, Scenario, ScenarioError, ShopperSpec, Step, StoreSpec
from mockstore.scene import plate_runs
from mockstore.script import ScriptConfig, compile_scenario, initial_state


@dataclass(frozen=True)
class Behaviour:
    """Behaviour knobs of random shoppers (probabilities per shopper or per action)."""

    max_actions: int = 4
    same_shelf: float = 0.3
    crossing: float = 0.5
    returns: float = 0.25
    wrong_return: float = 0.3
    double_pick: float = 0.2
    hold: float = 0.3


def random_scenario(seed: int, *, n_shoppers: int = 2, duration_s: float = 20.0, n_cameras: int = 1,
                    fps: float = 10.0, width_px: int = 640, height_px: int = 360, knobs: Knobs | None = None,
                    behaviour: Behaviour | None = None, store: StoreSpec | None = None,
                    name: str | None = None) -> Scenario:
    """A random but valid scenario; the same arguments always give the same scenario."""
    behaviour = behaviour or Behaviour()
    rng = np.random.default_rng([seed, 4242])
    base = Scenario(name=name or f"mock-{seed:04d}", seed=seed, duration_s=duration_s, fps=fps, width_px=width_px,
                    height_px=height_px, store=store or StoreSpec(), n_cameras=n_cameras,
                    knobs=knobs or Knobs(), source=f"<random seed {seed}>")
    layout, planogram, items = initial_state(base)
    base = replace(base, planogram=planogram)
    gondolas = base.store.gondolas if n_cameras >= 2 or len(base.store.gondolas) == 1 else ("B",)
    count: dict[tuple[str, int], int] = {}
    for it in items:
        product = base.product(it.sku)
        for plate in layout.plate_shares(it.x_m, product.width_m):
            count[(it.shelf, plate)] = count.get((it.shelf, plate), 0) + 1
    run_of = {}
    for shelf, plates, sku in plate_runs(planogram):
        for p in plates:
            run_of[(shelf, p)] = (plates, sku)
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
            x = layout.plate_x_m(plate)[0] + layout.plate_width_m / 2
            cost = abs(x - pos_x) / config.walk_speed_m_s + 1.2 + config.turn_s + config.reach_s
            if t_est + cost + 4.0 > duration_s:
                break
            if do_return:
                r_sku, r_shelf, r_plate = held.pop(int(rng.integers(len(held))))
                if rng.random() >= behaviour.wrong_return:
                    shelf, plate = r_shelf, r_plate
                    x = layout.plate_x_m(plate)[0] + layout.plate_width_m / 2
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
    scenario = replace(base, shoppers=tuple(shoppers))
    for _ in range(20):
        try:
            compile_scenario(scenario, config)
            return scenario
        except ScenarioError as exc:
            scenario = _drop_step(scenario, exc)
    return replace(scenario, shoppers=())


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
