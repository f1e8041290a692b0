"""Scenarios: what the mock store renders (store layout, cameras, products, one script per shopper).

A scenario is a JSON or YAML file (documented in docs/SCENARIO.md) or built in code
(:func:`mockstore.random_scenario.random_scenario`). :func:`parse_scenario` validates everything it
can without simulating; stock problems (picking an item that is not on the plate at that moment) are
found by :func:`mockstore.script.compile_scenario`. Every problem is a :class:`ScenarioError` naming
the file and the field or script step, e.g. ``x.yaml: shoppers[1].script[3]: unknown sku '123'``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import yaml

from mockstore.catalog import SHAPES, Product, default_catalog

ACTIONS = ("enter", "walk", "pick", "return", "hold", "leave")
SIDES = ("left", "right")
LAYOUTS = ("aisle", "store")
MAX_AISLES = 4
MAX_CAMERAS = {"aisle": 4, "store": 8}


class ScenarioError(ValueError):
    """A scenario is malformed; the message names the source file and the field or step."""

    def __init__(self, source: str, where: str, problem: str):
        self.source = source
        self.where = where
        self.problem = problem
        prefix = f"{source}: {where}" if where else source
        super().__init__(f"{prefix}: {problem}")


@dataclass(frozen=True)
class Knobs:
    """Rendering and sensor difficulty knobs (behaviour knobs live in the script or the random generator).

    ``lighting_change``: relative brightness swing over the clip (0 = constant, 0.4 = +-40 %).
    ``pixel_noise``: std of Gaussian sensor noise in 0-255 grey levels. ``motion_blur_px``: length
    of the blur kernel. ``jpeg_quality``: JPEG-degrade frames before encoding (100 = off).
    ``scene_variation``: 0..1 scale of random floor/shelf colours and camera pose jitter.
    Weight knobs: ``weight_rate_hz`` sample rate, ``weight_noise_g`` Gaussian noise std,
    ``weight_drift_g_per_min`` slow drift, ``weight_spikes`` transient bursts while a hand presses,
    ``weight_dropout`` share of the log lost in gaps and NaN readings, ``catalog_weight_error``
    maximum relative error of the catalog's nominal weights vs the true means (0.05 = 5 %).
    """

    lighting_change: float = 0.0
    pixel_noise: float = 0.0
    motion_blur_px: int = 0
    jpeg_quality: int = 100
    scene_variation: float = 0.5
    weight_rate_hz: float = 60.0
    weight_noise_g: float = 1.5
    weight_drift_g_per_min: float = 1.0
    weight_spikes: bool = True
    weight_dropout: float = 0.0
    catalog_weight_error: float = 0.0


@dataclass(frozen=True)
class StoreSpec:
    """The store furniture.

    ``layout="aisle"``: one aisle of ``aisle_length_m`` between gondolas ``A`` (left, y < 0) and ``B``
    (right, y > 0), open at both ends. ``layout="store"``: ``aisles`` such aisles side by side inside
    walls (aisle k between gondolas of letters 2k and 2k+1, neighbouring aisles' gondolas back to
    back), cross corridors ``corridor_m`` wide at both ends of the aisles, an entrance in the wall at
    x < 0 and an exit in the wall at x > aisle_length_m (see :class:`mockstore.scene.Layout`).

    Shelves are named ``<gondola><level>`` with level 1 at the bottom; plates are 1..plates_per_shelf
    from x = 0 to x = aisle_length_m.
    """

    aisle_length_m: float = 2.4
    aisle_width_m: float = 1.8
    levels: int = 3
    plates_per_shelf: int = 4
    gondolas: tuple[str, ...] = ("A", "B")
    layout: str = "aisle"
    aisles: int = 1
    corridor_m: float = 2.0

    def shelves(self) -> list[str]:
        return [f"{g}{level}" for g in self.gondolas for level in range(1, self.levels + 1)]


def gondola_letters(aisles: int) -> tuple[str, ...]:
    """Gondolas of ``aisles`` aisles: aisle k has letters 2k (its y < centre side) and 2k + 1."""
    return tuple(chr(ord("A") + k) for k in range(2 * aisles))


def store_spec(aisles: int = 2, *, aisle_length_m: float = 3.6, aisle_width_m: float = 1.8, levels: int = 3,
               plates_per_shelf: int = 6, corridor_m: float = 2.0) -> StoreSpec:
    """A walled store of ``aisles`` (2..MAX_AISLES) aisles with all their gondolas (A, B, C, D, ...)."""
    if not 2 <= aisles <= MAX_AISLES:
        raise ValueError(f"a store has 2..{MAX_AISLES} aisles, got {aisles}")
    return StoreSpec(aisle_length_m=aisle_length_m, aisle_width_m=aisle_width_m, levels=levels,
                     plates_per_shelf=plates_per_shelf, gondolas=gondola_letters(aisles), layout="store",
                     aisles=aisles, corridor_m=corridor_m)


@dataclass(frozen=True)
class CameraSpec:
    """A ceiling camera: position and look-at point in metres, horizontal field of view in degrees."""

    id: str
    position_m: tuple[float, float, float]
    look_at_m: tuple[float, float, float]
    hfov_deg: float = 88.0
    roll_deg: float = 0.0


@dataclass(frozen=True)
class Step:
    """One step of a shopper's script (fields unused by an action are None)."""

    action: str
    at_s: float | None = None
    shelf: str | None = None
    plate: int | None = None
    sku: str | None = None
    quantity: int = 1
    duration_s: float | None = None
    side: str | None = None


@dataclass(frozen=True)
class ShopperSpec:
    """A shopper: integer id (1..K, used in all truth files) and its script.

    ``same_look_as``: the id of another shopper whose shirt and trouser colours this one wears too.
    """

    id: int
    script: tuple[Step, ...]
    height_m: float | None = None
    same_look_as: int | None = None


@dataclass(frozen=True)
class Scenario:
    """Everything needed to render one store recording."""

    name: str
    seed: int = 0
    duration_s: float = 20.0
    fps: float = 10.0
    width_px: int = 640
    height_px: int = 360
    start_timestamp: float = 1_700_000_000.0
    store: StoreSpec = field(default_factory=StoreSpec)
    products: tuple[Product, ...] = field(default_factory=default_catalog)
    planogram: tuple[tuple[str, int, str], ...] | None = None
    cameras: tuple[CameraSpec, ...] | None = None
    n_cameras: int = 1
    knobs: Knobs = field(default_factory=Knobs)
    shoppers: tuple[ShopperSpec, ...] = ()
    source: str = "<scenario>"

    def product(self, sku: str) -> Product:
        for p in self.products:
            if p.sku == sku:
                return p
        raise KeyError(sku)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a JSON or YAML scenario file; raises :class:`ScenarioError`."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ScenarioError(source, "", "file not found")
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(source, "", f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                            f"{str(exc).splitlines()[0]}") from None
    scenario = parse_scenario(data, source=source)
    if scenario.name == "":
        scenario = replace(scenario, name=path.stem)
    return scenario


class _Reader:
    """Typed access to one mapping of the scenario, with errors that name the field."""

    def __init__(self, data: object, source: str, where: str, allowed: tuple[str, ...]):
        if not isinstance(data, dict):
            raise ScenarioError(source, where, f"expected a mapping, got {type(data).__name__}")
        self.data, self.source, self.where = data, source, where
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            raise ScenarioError(source, where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, self.path(key), problem)

    def number(self, key: str, default: float | None, *, minimum: float | None = None,
               maximum: float | None = None, positive: bool = False) -> float | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {value!r}")
        if positive and not value > 0:
            raise self.error(key, f"must be > 0, got {value}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be <= {maximum}, got {value}")
        return float(value)

    def integer(self, key: str, default: int | None, *, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be <= {maximum}, got {value}")
        return int(value)

    def string(self, key: str, default: str | None) -> str | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(key, f"expected a string, got {value!r}")
        return str(value)

    def vector(self, key: str, length: int) -> tuple[float, ...]:
        value = self.data.get(key)
        if (not isinstance(value, list | tuple) or len(value) != length
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
            raise self.error(key, f"expected a list of {length} numbers, got {value!r}")
        return tuple(float(v) for v in value)


def _parse_store(data: object, source: str) -> StoreSpec:
    """The ``store`` mapping: one open aisle (the default) or a walled store of several aisles."""
    sreader = _Reader(data, source, "store", ("layout", "aisles", "corridor_m", "aisle_length_m", "aisle_width_m",
                                              "levels", "plates_per_shelf", "gondolas"))
    aisles_given = sreader.integer("aisles", None, minimum=1, maximum=MAX_AISLES)
    layout = sreader.string("layout", "store" if aisles_given is not None and aisles_given >= 2 else "aisle")
    if layout not in LAYOUTS:
        raise sreader.error("layout", f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    if layout == "aisle":
        for key in ("aisles", "corridor_m"):
            if key in sreader.data and not (key == "aisles" and aisles_given == 1):
                raise sreader.error(key, "applies to the store layout only (layout: store)")
        gondolas = sreader.data.get("gondolas", ["A", "B"])
        if (not isinstance(gondolas, list) or not 1 <= len(gondolas) <= 2
                or not all(g in ("A", "B") for g in gondolas) or len(set(gondolas)) != len(gondolas)):
            raise sreader.error("gondolas", f"expected a list of 'A' (left) and/or 'B' (right), got {gondolas!r}")
        return StoreSpec(
            aisle_length_m=sreader.number("aisle_length_m", 2.4, minimum=1.0, maximum=8.0),
            aisle_width_m=sreader.number("aisle_width_m", 1.8, minimum=1.2, maximum=3.0),
            levels=sreader.integer("levels", 3, minimum=1, maximum=4),
            plates_per_shelf=sreader.integer("plates_per_shelf", 4, minimum=1, maximum=12),
            gondolas=tuple(gondolas),
        )
    if "gondolas" in sreader.data:
        raise sreader.error("gondolas", "the store layout has all gondolas of its aisles (A, B, C, D, ...)")
    aisles = aisles_given if aisles_given is not None else 2
    if aisles < 2:
        raise sreader.error("aisles", f"the store layout has 2..{MAX_AISLES} aisles, got {aisles}")
    return store_spec(
        aisles,
        aisle_length_m=sreader.number("aisle_length_m", 3.6, minimum=1.0, maximum=8.0),
        aisle_width_m=sreader.number("aisle_width_m", 1.8, minimum=1.2, maximum=3.0),
        levels=sreader.integer("levels", 3, minimum=1, maximum=4),
        plates_per_shelf=sreader.integer("plates_per_shelf", 6, minimum=1, maximum=12),
        corridor_m=sreader.number("corridor_m", 2.0, minimum=1.4, maximum=5.0),
    )


def _parse_knobs(data: object, source: str) -> Knobs:
    names = tuple(f.name for f in fields(Knobs))
    reader = _Reader(data, source, "knobs", names)
    values: dict[str, object] = {}
    for f in fields(Knobs):
        if f.name not in reader.data:
            continue
        if f.type == "bool":
            value = reader.data[f.name]
            if not isinstance(value, bool):
                raise reader.error(f.name, f"expected true or false, got {value!r}")
            values[f.name] = value
        elif f.type == "int":
            values[f.name] = reader.integer(f.name, None, minimum=0)
        else:
            values[f.name] = reader.number(f.name, None, minimum=0.0)
    knobs = Knobs(**values)
    if not 1 <= knobs.jpeg_quality <= 100:
        raise ScenarioError(source, "knobs.jpeg_quality", f"must be in 1..100, got {knobs.jpeg_quality}")
    if knobs.weight_rate_hz <= 0:
        raise ScenarioError(source, "knobs.weight_rate_hz", "must be > 0")
    if knobs.catalog_weight_error > 0.2:
        raise ScenarioError(source, "knobs.catalog_weight_error", "must be <= 0.2 (a share, 0.05 = 5 %)")
    if knobs.weight_dropout > 0.5:
        raise ScenarioError(source, "knobs.weight_dropout", "must be <= 0.5")
    return knobs


def _parse_product(data: object, source: str, where: str, defaults: dict[str, Product]) -> Product:
    allowed = ("sku", "name", "shape", "size_m", "weight_g", "weight_std_g", "color_bgr", "band_bgr",
               "cap_bgr", "label", "stripes")
    if isinstance(data, str | int) and not isinstance(data, bool):
        sku = str(data)
        if sku not in defaults:
            raise ScenarioError(source, where, f"unknown sku '{sku}' (not a default product; give its fields)")
        return defaults[sku]
    reader = _Reader(data, source, where, allowed)
    sku = reader.string("sku", None)
    if not sku:
        raise reader.error("sku", "missing")
    base = defaults.get(sku)
    if base is None:
        for key in ("name", "shape", "size_m", "weight_g", "color_bgr", "band_bgr"):
            if key not in reader.data:
                raise reader.error(key, f"missing (required for a product not in the default catalog: '{sku}')")
    shape = reader.string("shape", base.shape if base else None)
    if shape not in SHAPES:
        raise reader.error("shape", f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    size = reader.vector("size_m", 3) if "size_m" in reader.data else (base.width_m, base.depth_m, base.height_m)
    if not all(0.01 <= s <= 0.6 for s in size):
        raise reader.error("size_m", f"each size must be within 0.01..0.6 m, got {list(size)}")

    def color(key: str, fallback: tuple[int, int, int] | None) -> tuple[int, int, int]:
        if key not in reader.data:
            return fallback if fallback is not None else (200, 200, 200)
        vec = reader.vector(key, 3)
        if not all(0 <= v <= 255 for v in vec):
            raise reader.error(key, f"colour components must be 0..255, got {list(vec)}")
        return tuple(int(v) for v in vec)

    weight = reader.number("weight_g", base.weight_g if base else None, positive=True)
    return Product(
        sku=sku,
        name=reader.string("name", base.name if base else sku),
        shape=shape,
        width_m=size[0], depth_m=size[1], height_m=size[2],
        weight_g=weight,
        weight_std_g=reader.number("weight_std_g", base.weight_std_g if base else 0.0, minimum=0.0),
        color_bgr=color("color_bgr", base.color_bgr if base else None),
        band_bgr=color("band_bgr", base.band_bgr if base else None),
        cap_bgr=color("cap_bgr", base.cap_bgr if base else None),
        label=reader.string("label", base.label if base else sku[:5]),
        stripes=reader.integer("stripes", base.stripes if base else 1, minimum=0, maximum=4),
    )


def _parse_step(data: object, source: str, where: str, store: StoreSpec, skus: set[str]) -> Step:
    if isinstance(data, str):
        data = {"action": data}
    allowed = ("action", "at_s", "shelf", "plate", "sku", "quantity", "duration_s", "side")
    reader = _Reader(data, source, where, allowed)
    action = reader.string("action", None)
    if action not in ACTIONS:
        raise reader.error("action", f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    needs = {"enter": (), "walk": ("shelf", "plate"), "pick": ("sku", "plate"), "return": ("sku", "plate"),
             "hold": ("duration_s",), "leave": ()}[action]
    for key in needs:
        if key not in reader.data:
            raise ScenarioError(source, where, f"{action}: missing field '{key}'")
    useful = {"enter": ("at_s", "side"), "walk": ("shelf", "plate"), "pick": ("sku", "shelf", "plate", "quantity"),
              "return": ("sku", "shelf", "plate", "quantity"), "hold": ("duration_s",), "leave": ("side",)}[action]
    extra = sorted(k for k in reader.data if k not in ("action", *useful))
    if extra:
        raise ScenarioError(source, where, f"{action}: field(s) {', '.join(extra)} do not apply")
    shelf = reader.string("shelf", None)
    if shelf is not None and shelf not in store.shelves():
        raise ScenarioError(source, where, f"unknown shelf '{shelf}'; shelves are {', '.join(store.shelves())}")
    plate = reader.integer("plate", None)
    if plate is not None and not 1 <= plate <= store.plates_per_shelf:
        raise ScenarioError(source, where, f"plate {plate} out of range 1..{store.plates_per_shelf}")
    sku = reader.string("sku", None)
    if sku is not None and sku not in skus:
        raise ScenarioError(source, where, f"unknown sku '{sku}'")
    quantity = reader.integer("quantity", 1)
    if quantity not in (1, 2):
        raise ScenarioError(source, where, f"quantity must be 1 or 2, got {quantity}")
    side = reader.string("side", None)
    if side is not None and side not in SIDES:
        raise ScenarioError(source, where, f"side must be left or right, got {side!r}")
    if side is not None and store.layout == "store":
        raise ScenarioError(source, where, f"{action}: side applies to the aisle layout only (the store has one "
                            "entrance and one exit)")
    return Step(action=action, at_s=reader.number("at_s", None, minimum=0.0), shelf=shelf, plate=plate, sku=sku,
                quantity=quantity, duration_s=reader.number("duration_s", None, positive=True), side=side)


def _check_script(steps: list[Step], source: str, where: str) -> None:
    """Sequential checks that need no simulation: enter first, leave last, returns of held items only."""
    if not steps or steps[0].action != "enter":
        raise ScenarioError(source, f"{where}[0]", "the first step must be 'enter'")
    held: dict[str, int] = {}
    shelf: str | None = None
    for j, step in enumerate(steps):
        here = f"{where}[{j}]"
        if step.action == "enter" and j > 0:
            raise ScenarioError(source, here, "'enter' may only be the first step")
        if step.action == "leave" and j != len(steps) - 1:
            raise ScenarioError(source, here, "'leave' must be the last step")
        if step.action in ("walk", "pick", "return"):
            shelf = step.shelf or shelf
            if shelf is None:
                raise ScenarioError(source, here, f"{step.action}: no shelf given and the shopper is at none")
        if step.action == "pick":
            held[step.sku] = held.get(step.sku, 0) + step.quantity
        if step.action == "return":
            if held.get(step.sku, 0) < step.quantity:
                raise ScenarioError(source, here, f"returns sku '{step.sku}' x{step.quantity} but holds "
                                    f"{held.get(step.sku, 0)}")
            held[step.sku] -= step.quantity


def parse_scenario(data: object, *, source: str = "<scenario>") -> Scenario:
    """A parsed JSON/YAML mapping -> validated :class:`Scenario`; raises :class:`ScenarioError`."""
    top = ("name", "seed", "duration_s", "fps", "width", "height", "start_timestamp", "store", "products",
           "planogram", "cameras", "knobs", "shoppers")
    reader = _Reader(data, source, "", top)
    store = _parse_store(reader.data.get("store", {}), source)
    defaults = {p.sku: p for p in default_catalog()}
    products_data = reader.data.get("products")
    if products_data is None:
        products = default_catalog()
    else:
        if not isinstance(products_data, list) or not products_data:
            raise reader.error("products", "expected a non-empty list of skus or product mappings")
        products = tuple(_parse_product(p, source, f"products[{i}]", defaults) for i, p in enumerate(products_data))
        seen: set[str] = set()
        for i, p in enumerate(products):
            if p.sku in seen:
                raise ScenarioError(source, f"products[{i}]", f"sku '{p.sku}' appears twice")
            seen.add(p.sku)
    skus = {p.sku for p in products}

    planogram = None
    if reader.data.get("planogram") is not None:
        rows = reader.data["planogram"]
        if not isinstance(rows, list) or not rows:
            raise reader.error("planogram", "expected a non-empty list of {shelf, plate, sku}")
        parsed = []
        seen_plates: set[tuple[str, int]] = set()
        for i, row in enumerate(rows):
            where = f"planogram[{i}]"
            r = _Reader(row, source, where, ("shelf", "plate", "sku"))
            shelf, plate, sku = r.string("shelf", None), r.integer("plate", None), r.string("sku", None)
            if shelf not in store.shelves():
                raise ScenarioError(source, where, f"unknown shelf '{shelf}'")
            if plate is None or not 1 <= plate <= store.plates_per_shelf:
                raise ScenarioError(source, where, f"plate {plate} out of range 1..{store.plates_per_shelf}")
            if sku not in skus:
                raise ScenarioError(source, where, f"unknown sku '{sku}'")
            if (shelf, plate) in seen_plates:
                raise ScenarioError(source, where, f"plate {shelf}/{plate} appears twice")
            seen_plates.add((shelf, plate))
            parsed.append((shelf, plate, sku))
        planogram = tuple(parsed)

    cameras = None
    n_cameras = 1
    cams = reader.data.get("cameras")
    if isinstance(cams, int) and not isinstance(cams, bool):
        n_cameras = reader.integer("cameras", 1, minimum=1, maximum=MAX_CAMERAS[store.layout])
    elif cams is not None:
        if not isinstance(cams, list) or not cams:
            raise reader.error("cameras", "expected a camera count or a non-empty list of cameras")
        parsed_cams = []
        for i, cam in enumerate(cams):
            r = _Reader(cam, source, f"cameras[{i}]", ("id", "position_m", "look_at_m", "hfov_deg", "roll_deg"))
            cid = r.string("id", f"cam{i}")
            if not cid or not all(c.isalnum() or c in "_-" for c in cid):
                raise r.error("id", f"camera id must match [A-Za-z0-9_-]+, got {cid!r}")
            parsed_cams.append(CameraSpec(cid, r.vector("position_m", 3), r.vector("look_at_m", 3),
                                          r.number("hfov_deg", 88.0, minimum=20.0, maximum=150.0),
                                          r.number("roll_deg", 0.0)))
        if len({c.id for c in parsed_cams}) != len(parsed_cams):
            raise reader.error("cameras", "camera ids must be unique")
        cameras = tuple(parsed_cams)
        n_cameras = len(cameras)

    knobs = _parse_knobs(reader.data.get("knobs", {}), source)
    shoppers_data = reader.data.get("shoppers", [])
    if not isinstance(shoppers_data, list):
        raise reader.error("shoppers", "expected a list of shoppers")
    shoppers = []
    for i, sdata in enumerate(shoppers_data):
        where = f"shoppers[{i}]"
        r = _Reader(sdata, source, where, ("id", "script", "height_m", "same_look_as"))
        sid = r.integer("id", i + 1, minimum=1)
        script = r.data.get("script")
        if not isinstance(script, list) or not script:
            raise r.error("script", "expected a non-empty list of steps")
        steps = [_parse_step(s, source, f"{where}.script[{j}]", store, skus) for j, s in enumerate(script)]
        _check_script(steps, source, f"{where}.script")
        shoppers.append(ShopperSpec(sid, tuple(steps), r.number("height_m", None, minimum=1.4, maximum=2.1),
                                    r.integer("same_look_as", None, minimum=1)))
    if len({s.id for s in shoppers}) != len(shoppers):
        raise reader.error("shoppers", "shopper ids must be unique")
    ids = {s.id for s in shoppers}
    for i, spec in enumerate(shoppers):
        if spec.same_look_as is not None and (spec.same_look_as not in ids or spec.same_look_as == spec.id):
            raise ScenarioError(source, f"shoppers[{i}].same_look_as",
                                f"must be the id of another shopper, got {spec.same_look_as}")

    return Scenario(
        name=reader.string("name", "") or "",
        seed=reader.integer("seed", 0, minimum=0),
        duration_s=reader.number("duration_s", 20.0, positive=True, maximum=3600.0),
        fps=reader.number("fps", 10.0, positive=True, maximum=60.0),
        width_px=reader.integer("width", 640, minimum=64, maximum=3840),
        height_px=reader.integer("height", 360, minimum=48, maximum=2160),
        start_timestamp=reader.number("start_timestamp", 1_700_000_000.0, minimum=0.0, maximum=1e11),
        store=store, products=products, planogram=planogram, cameras=cameras, n_cameras=n_cameras,
        knobs=knobs, shoppers=tuple(shoppers), source=source,
    )
