"""Compile a scenario into a simulation: shopper motion segments, exact pick/return events, shelf states.

Each shopper's script is turned into timed segments (walk, stand, reach), one shopper after another:
a shopper does not stand where an earlier one stands at the same time (two bodies in one place), but
beside them, reaching across to the plate. Then all picks and returns are applied in time order to the
shelf stock, which decides exactly which items (with their own true weights) leave or reach which plates.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace

import numpy as np

from mockstore.scenario import Scenario, ScenarioError
from mockstore.scene import Item, Layout, generate_planogram, initial_items, path_length_m

SKIN_BGR = ((190, 215, 245), (150, 185, 225), (110, 150, 200), (70, 105, 160), (45, 70, 110), (95, 135, 185))
HAIR_BGR = ((20, 20, 25), (30, 45, 70), (40, 80, 140), (120, 130, 140), (15, 30, 50), (60, 110, 170))


@dataclass(frozen=True)
class ScriptConfig:
    """Timing and placement of scripted motion (seconds, metres).

    personal_space_m: shoppers standing at one shelf keep at least this far apart along it; a shopper
        whose plate is taken (within ``personal_margin_s`` of their stay) stands beside the one there,
        or ``behind_m`` further back when both sides are taken too.
    exit_margin_m: shoppers enter this far outside the aisle end (store layout: outside the entrance
        door) and leave ``exit_beyond_m`` further out than that.
    """

    walk_speed_m_s: float = 0.9
    extend_s: float = 0.6
    dwell_s: float = 0.4
    retract_s: float = 0.6
    turn_s: float = 0.4
    stand_offset_m: float = 0.42
    exit_margin_m: float = 0.9
    exit_beyond_m: float = 0.6
    lane_jitter_m: float = 0.2
    personal_space_m: float = 0.55
    personal_margin_s: float = 0.5
    behind_m: float = 0.3

    @property
    def reach_s(self) -> float:
        return self.extend_s + self.dwell_s + self.retract_s

    @property
    def event_offset_s(self) -> float:
        """Time from the start of a reach to the moment the item leaves / reaches the shelf."""
        return self.extend_s + self.dwell_s / 2


@dataclass(frozen=True)
class Look:
    """How a shopper looks: BGR colours and body height in metres."""

    shirt_bgr: tuple[int, int, int]
    pants_bgr: tuple[int, int, int]
    skin_bgr: tuple[int, int, int]
    hair_bgr: tuple[int, int, int]
    height_m: float
    bald: bool = False


@dataclass(frozen=True)
class Segment:
    """A piece of a shopper's motion: walk (start -> end), stand, or reach (an arm to the shelf)."""

    kind: str
    t0_s: float
    t1_s: float
    start_xy: tuple[float, float]
    end_xy: tuple[float, float]
    face_xy: tuple[float, float]
    event: int = -1
    arm: str = ""


@dataclass(frozen=True)
class Event:
    """One exact pick or return: which items, which plates, how many grams each plate gained (signed)."""

    t_s: float
    shopper: int
    action: str
    sku: str
    quantity: int
    shelf: str
    plates: tuple[int, ...]
    item_ids: tuple[int, ...]
    arm: str
    target_m: tuple[float, float, float]
    grams_by_plate: tuple[tuple[int, float], ...]
    weight_g: float


@dataclass(frozen=True)
class ShopperTrack:
    id: int
    look: Look
    segments: tuple[Segment, ...]
    t_enter_s: float
    t_exit_s: float


@dataclass(frozen=True)
class Simulation:
    """A compiled scenario. ``epochs`` are (time, items on shelves from then on), sorted by time."""

    scenario: Scenario
    layout: Layout
    planogram: tuple[tuple[str, int, str], ...]
    nominal_weight_g: dict[str, float]
    items: dict[int, Item]
    epoch_times_s: tuple[float, ...]
    epoch_items: tuple[tuple[Item, ...], ...]
    events: tuple[Event, ...]
    shoppers: tuple[ShopperTrack, ...]
    held: dict[int, tuple[tuple[float, tuple[int, ...], tuple[int, ...]], ...]]
    config: ScriptConfig

    def shelf_items(self, t_s: float) -> tuple[int, tuple[Item, ...]]:
        """(epoch index, items on the shelves) at time ``t_s``."""
        k = bisect.bisect_right(self.epoch_times_s, t_s) - 1
        return k, self.epoch_items[max(k, 0)]

    def held_items(self, shopper: int, t_s: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Item ids in the (left, right) hand of a shopper at time ``t_s``."""
        changes = self.held.get(shopper, ())
        times = [c[0] for c in changes]
        k = bisect.bisect_right(times, t_s) - 1
        return ((), ()) if k < 0 else (changes[k][1], changes[k][2])


def _stay_s(script, j: int, config: ScriptConfig) -> float:
    """How long a shopper stays at the plate of ``script[j]``: that step and the following ones at the
    same plate (picks, returns, walks there, holds), until a step elsewhere or leaving."""
    first = script[j]
    stay = 0.0
    for step in script[j:]:
        if step.action == "hold":
            stay += step.duration_s
        elif step.action in ("walk", "pick", "return") and (step.shelf or first.shelf, step.plate) == \
                (first.shelf, first.plate):
            stay += config.turn_s + (config.reach_s if step.action != "walk" else 0.0)
        else:
            break
    return stay


def _free_spot(spot: tuple[float, float], from_x: float, during: tuple[float, float],
               occupied: list[tuple[float, float, tuple[float, float]]], aisle_length_m: float,
               config: ScriptConfig, shelf_sign: float = 0.0) -> tuple[float, float]:
    """``spot`` if no earlier shopper stands within ``personal_space_m`` of it (same side of the aisle)
    during ``during`` (give or take ``personal_margin_s``); else the free spot nearest to it along the
    shelf, at most one space away (an arm's reach; on ties, the side the shopper comes from); with
    none free, ``behind_m`` further from the shelf than ``spot``, reaching past the others.
    ``shelf_sign``: +1 / -1 when the shelf is at larger / smaller y than ``spot`` (0: the sign of
    ``spot``'s y, for the one aisle centred on y = 0)."""
    gap, margin = config.personal_space_m, config.personal_margin_s
    busy = np.array([xy[0] for t0, t1, xy in occupied
                     if t0 < during[1] + margin and t1 > during[0] - margin and abs(xy[1] - spot[1]) < gap])
    if not len(busy) or np.abs(busy - spot[0]).min() >= gap:
        return spot
    xs = spot[0] + np.linspace(-gap, gap, 23)
    xs = xs[(xs >= gap / 4) & (xs <= aisle_length_m - gap / 4)]
    clearance = np.abs(xs[:, None] - busy[None, :]).min(axis=1)
    order = np.lexsort((np.abs(xs - from_x), np.abs(xs - spot[0])))
    free = order[clearance[order] >= gap - 1e-6]
    if len(free):
        return (float(xs[free[0]]), spot[1])
    sign = shelf_sign or math.copysign(1.0, spot[1])
    return (spot[0], spot[1] - sign * config.behind_m)


def random_look(rng: np.random.Generator, height_m: float | None) -> Look:
    hue = int(rng.integers(0, 180))
    shirt = _hsv_to_bgr(hue, int(rng.integers(60, 230)), int(rng.integers(70, 235)))
    pants = _hsv_to_bgr(int(rng.integers(90, 130)), int(rng.integers(20, 160)), int(rng.integers(30, 120)))
    return Look(shirt, pants, SKIN_BGR[int(rng.integers(len(SKIN_BGR)))], HAIR_BGR[int(rng.integers(len(HAIR_BGR)))],
                float(height_m if height_m is not None else rng.uniform(1.58, 1.88)), bool(rng.random() < 0.1))


def _hsv_to_bgr(h: int, s: int, v: int) -> tuple[int, int, int]:
    import cv2

    bgr = cv2.cvtColor(np.uint8([[[h, s, v]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def seed_streams(seed: int, n: int = 8) -> list[np.random.Generator]:
    """Independent generators for layout, looks, weights, sensors, ... (one seed, no global state)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def initial_state(scenario: Scenario) -> tuple[Layout, tuple[tuple[str, int, str], ...], list[Item]]:
    """Layout, planogram (the scenario's or a random one) and the items on the shelves at time 0."""
    rng_layout = seed_streams(scenario.seed)[0]
    layout = Layout(scenario.store)
    generated = generate_planogram(scenario, layout, rng_layout)
    planogram = scenario.planogram or generated
    true_mean = {p.sku: p.weight_g for p in scenario.products}
    return layout, planogram, initial_items(scenario, layout, planogram, true_mean, rng_layout)


def compile_scenario(scenario: Scenario, config: ScriptConfig | None = None) -> Simulation:
    """Scenario -> Simulation; raises ScenarioError naming the step for impossible scripts."""
    config = config or ScriptConfig()
    _, rng_looks, rng_weights, *_ = seed_streams(scenario.seed)
    layout, planogram, items = initial_state(scenario)
    err = scenario.knobs.catalog_weight_error
    nominal = {p.sku: round(p.weight_g * (1 + (rng_weights.uniform(-err, err) if err > 0 else 0.0)), 1)
               for p in scenario.products}
    by_id = {it.id: it for it in items}
    stocked = {(s, p) for s, p, _ in planogram}

    tracks = []
    actions = []  # (t, shopper index, step index, step, arm, stand_x)
    occupied: list[tuple[float, float, tuple[float, float]]] = []  # earlier shoppers standing: (t0, t1, xy)
    for si, spec in enumerate(scenario.shoppers):
        look = random_look(rng_looks, spec.height_m)
        lane = float(rng_looks.uniform(-config.lane_jitter_m, config.lane_jitter_m))
        segments: list[Segment] = []
        first = spec.script[0]
        side = first.side or ("left" if rng_looks.random() < 0.5 else "right")
        L = scenario.store.aisle_length_m
        if layout.is_store:  # outside the entrance door, walking in
            door = layout.entrance_xy()
            pos = (door[0] - config.exit_margin_m, door[1] + lane)
            face = (1.0, 0.0)
        else:
            x_start = -config.exit_margin_m if side == "left" else L + config.exit_margin_m
            pos = (x_start, lane)
            face = (1.0, 0.0) if side == "left" else (-1.0, 0.0)
        t = first.at_s or 0.0
        t_enter = t
        at_plate: tuple[str, int] | None = None
        shelf: str | None = None
        held = {"left": [], "right": []}
        t_exit = math.inf

        def walk_to(target: tuple[float, float], t: float, pos: tuple[float, float], face, segments=segments):
            dist = math.hypot(target[0] - pos[0], target[1] - pos[1])
            if dist < 1e-6:
                return t, pos, face
            dur = dist / config.walk_speed_m_s
            direction = ((target[0] - pos[0]) / dist, (target[1] - pos[1]) / dist)
            segments.append(Segment("walk", t, t + dur, pos, target, direction))
            return t + dur, target, direction

        def walk_route(target: tuple[float, float], t: float, pos: tuple[float, float], face, lane=lane):
            """Walk to ``target`` around the gondolas (one straight walk in the one-aisle layout)."""
            for waypoint in layout.route_m(pos, target, lane):
                t, pos, face = walk_to(waypoint, t, pos, face)
            return t, pos, face

        for j, step in enumerate(spec.script[1:], start=1):
            where = f"shoppers[{si}].script[{j}]"
            if step.action in ("walk", "pick", "return"):
                shelf = step.shelf or shelf
                if (shelf, step.plate) not in stocked and step.action == "pick":
                    raise ScenarioError(scenario.source, where, f"plate {shelf}/{step.plate} is not in the planogram")
                if at_plate != (shelf, step.plate):
                    p0, p1 = layout.plate_x_m(step.plate)
                    sign = layout.gondola_sign(shelf)
                    centre = layout.aisle_centre_y_m(layout.aisle_of(shelf))
                    stand = ((p0 + p1) / 2, centre + sign * (layout.half_aisle_m - config.stand_offset_m))
                    if layout.is_store:
                        dist = path_length_m([pos, *layout.route_m(pos, stand, lane)])
                    else:
                        dist = math.hypot(stand[0] - pos[0], stand[1] - pos[1])
                    arrive = t + dist / config.walk_speed_m_s
                    stand = _free_spot(stand, pos[0], (arrive, arrive + _stay_s(spec.script, j, config)), occupied,
                                       L, config, sign)
                    t, pos, face = walk_route(stand, t, pos, face)
                    at_plate = (shelf, step.plate)
                face_shelf = (0.0, layout.gondola_sign(shelf))
                if step.action == "walk":
                    segments.append(Segment("stand", t, t + config.turn_s, pos, pos, face_shelf))
                    t += config.turn_s
                    face = face_shelf
                    continue
                segments.append(Segment("stand", t, t + config.turn_s, pos, pos, face_shelf))
                t += config.turn_s
                face = face_shelf
                if step.action == "pick":
                    arm = "right" if len(held["right"]) <= len(held["left"]) else "left"
                    held[arm] += [step.sku] * step.quantity
                else:
                    arm = next((a for a in ("right", "left") if held[a].count(step.sku) >= 1), "right")
                    for _ in range(step.quantity):
                        hand = arm if step.sku in held[arm] else ("left" if arm == "right" else "right")
                        held[hand].remove(step.sku)
                t_event = t + config.event_offset_s
                if t_event > scenario.duration_s:
                    raise ScenarioError(scenario.source, where, f"{step.action} happens at {t_event:.1f} s, after "
                                        f"the end of the clip (duration_s {scenario.duration_s:g})")
                actions.append((t_event, si, j, step, arm, shelf))
                segments.append(Segment("reach", t, t + config.reach_s, pos, pos, face_shelf, len(actions) - 1, arm))
                t += config.reach_s
            elif step.action == "hold":
                segments.append(Segment("stand", t, t + step.duration_s, pos, pos, face))
                t += step.duration_s
            elif step.action == "leave" and layout.is_store:  # out through the exit door
                door = layout.exit_xy()
                x_out = door[0] + config.exit_margin_m + config.exit_beyond_m
                t, pos, face = walk_route((x_out, door[1] + lane), t, pos, face)
                t_exit = t
            elif step.action == "leave":
                exit_side = step.side or ("left" if pos[0] < L / 2 else "right")
                x_exit = (-config.exit_margin_m - config.exit_beyond_m if exit_side == "left"
                          else L + config.exit_margin_m + config.exit_beyond_m)
                t, pos, face = walk_to((pos[0], lane), t, pos, face)
                t, pos, face = walk_to((x_exit, lane), t, pos, face)
                t_exit = t
        if not segments or segments[-1].t1_s < scenario.duration_s and math.isinf(t_exit):
            segments.append(Segment("stand", t, max(t, scenario.duration_s) + 1.0, pos, pos, face))
        tracks.append((spec.id, look, segments, t_enter, t_exit))
        occupied += [(seg.t0_s, seg.t1_s, seg.start_xy) for seg in segments if seg.kind in ("stand", "reach")]
    tracks = _shared_looks(tracks, scenario)

    # Apply picks and returns to the stock in time order.
    order = sorted(range(len(actions)), key=lambda k: (actions[k][0], k))
    shelf_items: dict[int, Item] = {it.id: it for it in items}
    held_ids: dict[int, dict[str, list[int]]] = {spec.id: {"left": [], "right": []} for spec in scenario.shoppers}
    events_by_action: dict[int, Event] = {}
    epoch_times = [-math.inf]
    epoch_items = [tuple(shelf_items.values())]
    held_changes: dict[int, list] = {spec.id: [] for spec in scenario.shoppers}
    for k in order:
        t_event, si, j, step, arm, shelf = actions[k]
        where = f"shoppers[{si}].script[{j}]"
        sid = scenario.shoppers[si].id
        product = scenario.product(step.sku)
        p0, p1 = layout.plate_x_m(step.plate)
        centre = (p0 + p1) / 2
        if step.action == "pick":
            candidates = [it for it in shelf_items.values() if it.shelf == shelf and it.sku == step.sku
                          and step.plate in layout.plate_shares(it.x_m, product.width_m)]
            if len(candidates) < step.quantity:
                raise ScenarioError(scenario.source, where, f"pick: {len(candidates)} item(s) of sku '{step.sku}' "
                                    f"on {shelf}/{step.plate} at {t_event:.2f} s, {step.quantity} wanted")
            candidates.sort(key=lambda it: (abs(it.x_m - centre), it.id))
            moved = candidates[: step.quantity]
            for it in moved:
                del shelf_items[it.id]
                held_ids[sid][arm].append(it.id)
            sign = -1.0
        else:
            moved = []
            for _ in range(step.quantity):
                hand = arm if any(by_id[i].sku == step.sku for i in held_ids[sid][arm]) else (
                    "left" if arm == "right" else "right")
                item_id = next(i for i in reversed(held_ids[sid][hand]) if by_id[i].sku == step.sku)
                held_ids[sid][hand].remove(item_id)
                placed = _place(by_id[item_id], shelf, step.plate, layout, product.width_m, shelf_items, scenario)
                shelf_items[placed.id] = placed
                by_id[placed.id] = placed
                moved.append(placed)
            sign = 1.0
        grams: dict[int, float] = {}
        for it in moved:
            for plate, share in layout.plate_shares(it.x_m, product.width_m).items():
                grams[plate] = grams.get(plate, 0.0) + sign * it.weight_g * share
        xs = [it.x_m for it in moved]
        target = (float(np.mean(xs)), layout.item_y_m(shelf, product),
                  layout.board_z_m(shelf) + 0.55 * product.height_m)
        events_by_action[k] = Event(t_event, sid, step.action, step.sku, step.quantity, shelf, tuple(sorted(grams)),
                                    tuple(it.id for it in moved), arm, target,
                                    tuple(sorted(grams.items())), float(sum(it.weight_g for it in moved)))
        epoch_times.append(t_event)
        epoch_items.append(tuple(shelf_items.values()))
        held_changes[sid].append((t_event, tuple(held_ids[sid]["left"]), tuple(held_ids[sid]["right"])))

    events = tuple(events_by_action[k] for k in order)
    index_of = {k: n for n, k in enumerate(order)}
    shoppers = []
    for sid, look, segments, t_enter, t_exit in tracks:
        segs = tuple(Segment(s.kind, s.t0_s, s.t1_s, s.start_xy, s.end_xy, s.face_xy,
                             index_of[s.event] if s.event >= 0 else -1, s.arm) for s in segments)
        shoppers.append(ShopperTrack(sid, look, segs, t_enter, t_exit))
    return Simulation(scenario, layout, planogram, nominal, by_id, tuple(epoch_times), tuple(epoch_items), events,
                      tuple(shoppers), {k: tuple(v) for k, v in held_changes.items()}, config)


def _shared_looks(tracks: list[tuple], scenario: Scenario) -> list[tuple]:
    """Shoppers with ``same_look_as`` wear that shopper's shirt and trouser colours (their own skin,
    hair and height)."""
    own = {t[0]: t[1] for t in tracks}
    out = []
    for spec, (sid, look, *rest) in zip(scenario.shoppers, tracks, strict=True):
        if spec.same_look_as is not None and spec.same_look_as in own:
            other = own[spec.same_look_as]
            look = replace(look, shirt_bgr=other.shirt_bgr, pants_bgr=other.pants_bgr)
        out.append((sid, look, *rest))
    return out


def _place(item: Item, shelf: str, plate: int, layout: Layout, width_m: float, on_shelf: dict[int, Item],
           scenario: Scenario) -> Item:
    """Put a returned item in the free spot of the plate nearest its centre (in front if the plate is full)."""
    p0, p1 = layout.plate_x_m(plate)
    centre = (p0 + p1) / 2
    others = [(it.x_m, scenario.product(it.sku).width_m) for it in on_shelf.values() if it.shelf == shelf]
    lo, hi = p0 + width_m / 2 + 0.004, p1 - width_m / 2 - 0.004
    if lo <= hi:
        for x in sorted(np.arange(lo, hi + 1e-9, 0.01), key=lambda x: (abs(x - centre), x)):
            if all(abs(x - ox) >= (width_m + ow) / 2 + 0.004 for ox, ow in others):
                return Item(item.id, item.sku, item.weight_g, shelf, float(x), 0.0)
    x = min(max(centre, lo), hi) if lo <= hi else centre
    return Item(item.id, item.sku, item.weight_g, shelf, float(x), -0.15)
