"""Every setting of `walkout run` and `walkout fuse`: its section, type, unit, default and meaning.

Read from the config dataclasses themselves (walkout.config.PipelineConfig, fusion.pipeline.FuseConfig
and their sections), so the reference cannot drift from the code:

- the meaning is the field's own docstring (a string literal right under the field), else its
  entry in the class docstring (``name: meaning``, or ``a, b: meaning`` for several), else
  :data:`NOTES` (for stages whose docstrings do not give one yet); one line: its first sentence;
- the unit is :data:`UNITS`, else told by the name's suffix (``_s`` seconds, ``_g`` grams, ``_m``
  metres, ``_px`` pixels, ``_frames`` frames ...), else none (counts, shares, flags, names);
- the default is the default config's value (docs/CONFIG.md shows the shipped models' paths relative
  to the project; the TOML defaults have them as they are on this machine).

``walkout config --defaults`` prints them as a commented TOML file per command (a file to start from);
``walkout config --defaults --markdown`` is docs/CONFIG.md.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import math
import re
import textwrap
from dataclasses import dataclass
from functools import cache
from typing import Any

from formats.config import field_types, type_name

MARKDOWN_COMMAND = "walkout config --defaults --markdown > docs/CONFIG.md"

# Meanings of settings whose dataclass docstring does not give one (the vision stages; move each into
# the field's docstring there and delete it here: tests/walkout/test_walkout_config_reference.py says
# when one is no longer needed).
NOTES = {
    "run.detector.model_path": "the detector's weights (.pt, .onnx or an OpenVINO folder); `--model` sets it",
    "run.detector.imgsz": "the detector's input size (the longer image side is scaled to it)",
    "run.detector.confidence": "products and hands less confident than this are dropped",
    "run.detector.shopper_confidence": "shoppers less confident than this are dropped",
    "run.detector.iou": "overlap above which the detector's non-maximum suppression keeps one box",
    "run.detector.device": "where the models run: cpu, cuda, cuda:0, mps",
    "run.detector.batch": "frames per detector call",
    "run.detector.shopper_classes": "detector class names that are shoppers",
    "run.detector.hand_classes": "detector class names that are hands",
    "run.detector.product_prefix": "detector classes named `<prefix><sku>` are that product",
    "run.detector.generic_product_classes": "detector class names of a product whose sku is not known",
    "run.detector.product_skus": "detector class name -> sku, for product classes named otherwise",
    "run.detector.pose_hand_size": "with a pose model, the side of a wrist's hand box, as a share of its person box's height",
    "run.detector.pose_min_keypoint_confidence": "with a pose model, wrists less confident than this are not hands",
    "run.detector.pose_wrists": "with a pose model, the wrist keypoint indices (empty: by the model's keypoint count)",
    "run.detector.mediapipe_model_complexity": "MediaPipe pose model size: 0, 1 or 2 (bigger: slower, better)",
    "run.detector.mediapipe_max_hands": "MediaPipe: most hands found per frame",
    "run.detector.mediapipe_min_confidence": "MediaPipe: detections less confident than this are dropped",
    "run.detector.mediapipe_wrist_match": "MediaPipe: a hand whose wrist is within this many hand-box sides of a pose wrist is that wrist",
    "run.detector.mediapipe_hand_reach": "MediaPipe: a hand within this share of the person box diagonal of the pose person is theirs",
    "run.detector.mediapipe_standin_scale": "MediaPipe: a hand of nobody the pose model found gets a stand-in person, its box grown this many times",
    "run.detector.mediapipe_resting_hand": "MediaPipe: the pose person's hands within this many torso lengths of a hip are at rest and dropped",
    "run.held.classifier_path": "the held-item classifier's weights ('' for none); `--classifier` sets it",
    "run.held.crop_min_px": "smallest side of the crop around a hand given to the classifier",
    "run.held.imgsz": "the held-item classifier's input size",
    "run.held.hand_box_scale": "source boxes: a product box belongs to a hand when its centre is in the hand box grown this many times",
    "run.hand_detector.model_path": "the hand model's weights, run on a crop around each shopper ('' for none)",
    "run.hand_detector.imgsz": "the hand model's input size",
    "run.hand_detector.confidence": "hands less confident than this are dropped",
    "run.hand_detector.iou": "overlap above which the hand model's non-maximum suppression keeps one box",
    "run.hand_detector.nms_iou": "hands found in two shoppers' crops that overlap more than this are one hand",
    "run.tracking.lost_track_buffer_s": "a lost shopper's track is kept this long, to be found again",
    "run.tracking.track_activation_threshold": "detections at least this confident (and over high_conf_det_threshold) may start a track",
    "run.tracking.high_conf_det_threshold": "detections at least this confident are matched first (ByteTrack's first pass)",
    "run.tracking.minimum_iou_threshold": "smallest overlap of a detection with a track's predicted box to be matched to it",
    "run.tracking.minimum_consecutive_s": "how long a new track must be seen in a row before it gets an id",
    "run.reid.hue_bins": "hue bins of the colour histogram of a box's middle",
    "run.reid.saturation_bins": "saturation bins of the colour histogram of a box's middle",
    "run.reid.centre_fraction": "the colour histogram is of this share of the box's width and height, around its centre",
    "run.held.source": "what says what a hand holds: auto, hand_model, classifier, boxes or reach (vision/products.py)",
    "run.reaching.model_path": "the reach classifier's weights ('' turns the stage off)",
    "run.reid.max_decoded": "a contact of more tracks than this decodes only the ones with most boxes in it (n tracks: n! states a frame)",
    "run.reid.break_local": "a track is split where the colours of the windows before and after a moment differ by at least this",
    "run.reid.break_whole": "a track is split only where the colours of the whole track before and after the moment differ by at least this too",
    "run.reid.relink_gap_s": "a track starting at most this long after another ended may continue it (0: never relink)",
    "run.reid.relink_distance": "a track continues one that ended only when the colours of its first window and of the other's last differ by at most this",
    "run.reid.relink_reach": "a track continues one that ended only when it starts within this many box diagonals of where the other ended",
    "run.shoppers.max_gap_s": "a tracklet starting at most this long after another ended may continue it",
    "run.hands.max_reach": "a hand farther than this from a shopper's box (in box diagonals) is not theirs",
    "run.hands.stickiness": "a hand stays with its last owner unless another is closer by this much (box diagonals)",
    "run.hands.memory_px": "a hand within this distance of where a hand was in the previous frame is that hand",
    "run.hands.hands_per_shopper": "most hands attached to one shopper",
    "run.shoppers.max_speed_m_s": "a tracklet continues one that ended earlier only within this walking speed (plus gap_slack_m)",
    "run.shoppers.gap_slack_m": "distance allowed on top of max_speed_m_s x the gap for a tracklet to continue another",
    "run.shoppers.handover_s": "one camera's two tracks seen at once for at most this long, within handover_m, may be one person (0: always two people)",
    "run.shoppers.handover_m": "one camera's two tracks seen at once briefly (handover_s) may be one person only within this distance on the floor",
}

# Units of settings whose name does not end in one (a suffix says it otherwise, see ``unit``).
UNITS = {
    "run.detector.imgsz": "px",
    "run.detector.confidence": "0-1",
    "run.detector.shopper_confidence": "0-1",
    "run.detector.iou": "0-1",
    "run.detector.pose_hand_size": "× person height",
    "run.detector.pose_min_keypoint_confidence": "0-1",
    "run.detector.mediapipe_min_confidence": "0-1",
    "run.detector.mediapipe_wrist_match": "hand-box sides",
    "run.detector.mediapipe_hand_reach": "× person diagonal",
    "run.detector.mediapipe_resting_hand": "torso lengths",
    "run.held.crop_scale": "× hand box side",
    "run.held.imgsz": "px",
    "run.held.max_hand_distance": "hand-box sides",
    "run.held.hand_box_scale": "× hand box",
    "run.hand_detector.imgsz": "px",
    "run.hand_detector.confidence": "0-1",
    "run.hand_detector.iou": "0-1",
    "run.hand_detector.margin": "× shopper box",
    "run.hand_detector.nms_iou": "0-1",
    "run.tracking.track_activation_threshold": "0-1",
    "run.tracking.high_conf_det_threshold": "0-1",
    "run.tracking.minimum_iou_threshold": "0-1",
    "run.tracking.look_weight": "IoU per Bhattacharyya",
    "run.tracking.look_gate": "Bhattacharyya 0-1",
    "run.reid.contact_overlap": "share of smaller box",
    "run.reid.switch_cost": "box-weights",
    "run.reid.break_local": "Bhattacharyya 0-1",
    "run.reid.break_whole": "Bhattacharyya 0-1",
    "run.reid.relink_distance": "Bhattacharyya 0-1",
    "run.reid.relink_whole": "Bhattacharyya 0-1",
    "run.reid.relink_reach": "box diagonals",
    "run.reid.centre_fraction": "share of box",
    "run.hands.max_reach": "box diagonals",
    "run.hands.stickiness": "box diagonals",
    "run.reaching.margin": "× box size",
    "run.reaching.imgsz": "px",
    "run.events.min_seen_share": "0-1",
    "run.events.min_sku_confidence": "0-1",
    "fuse.weights.max_abs_grams": "g",
    "fuse.weight_events.quiet_noise_k": "× plate std",
    "fuse.weight_events.delta_noise_k": "× plate std",
    "fuse.weight_events.adjacent_plates": "plates",
    "fuse.weight_events.plateau_spread": "× step",
    "fuse.identify.weight_tolerance_frac": "share of weight",
    "fuse.identify.measured_tolerance_frac": "share of weight",
    "fuse.identify.neighbour_plates": "plates",
    "fuse.identify.min_fit": "likelihood 0-1",
    "fuse.identify.placement_scale": "share of change",
    "fuse.reconcile.confirm_fit": "likelihood 0-1",
    "fuse.attribution.review_below": "probability 0-1",
    "fuse.attribution.second_take": "log-odds",
    "run.shoppers.link_bias": "log-odds",
}
# A meaning longer than this (characters) is cut at its first colon or semicolon (see one_line).
LONG = 120
SUFFIX_UNITS = (("_m_s", "m/s"), ("_frames", "frames"), ("_px", "px"), ("_frac", "share"), ("_s", "s"),
                ("_g", "g"), ("_m", "m"))


@dataclass(frozen=True)
class Setting:
    """One setting: ``command`` run or fuse, ``section`` its table, ``key``, ``kind`` its type as a
    user writes it, ``unit`` ('' for none), ``default`` the value, ``meaning`` one line."""

    command: str
    section: str
    key: str
    kind: str
    unit: str
    default: Any
    meaning: str

    @property
    def name(self) -> str:
        return f"{self.command}.{self.section}.{self.key}"


# ------------------------------------------------------------------------------------ meanings


def _attribute_docs(cls: type) -> dict[str, str]:
    """Field docstrings: a string literal right after ``name: type = default`` in the class body."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0].body
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = after.value.value
    return docs


def _class_doc_entries(cls: type, names: set[str]) -> dict[str, tuple[str, str]]:
    """``name: meaning`` entries of a class docstring (also ``a, b and c: meaning`` and ````name````),
    each starting a line or following a sentence end or a semicolon; the meaning runs to the next entry.
    Field -> (its own entry, an entry shared with other fields), '' where none."""
    doc = inspect.getdoc(cls) or ""
    if cls.__doc__ is None or doc == (inspect.getdoc(object) or ""):
        return {}
    name = r"(?:``)?(\w+)(?:``)?"
    header = re.compile(rf"(?:^|(?<=[.;] )|(?<=\n))\s*({name}(?:\s*(?:,|and)\s*{name})*)\s*:\s", re.M)
    found = []
    for match in header.finditer(doc):
        listed = [n for n in re.findall(r"\w+", match.group(1)) if n != "and"]
        if listed and all(n in names for n in listed):
            found.append((match.start(), match.end(), listed))
    entries: dict[str, tuple[str, str]] = {}
    for i, (_, end, listed) in enumerate(found):
        stop = found[i + 1][0] if i + 1 < len(found) else len(doc)
        text = " ".join(doc[end:stop].split()).rstrip(";").strip()
        for n in listed:
            alone, shared = entries.get(n, ("", ""))
            entries[n] = (alone or text, shared) if len(listed) == 1 else (alone, shared or text)
    return entries


def first_sentence(text: str) -> str:
    """The text up to its first full stop outside brackets (not of "e.g." or "i.e."), without it."""
    text = " ".join(text.split())
    depth = 0
    for i, char in enumerate(text):
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "." and depth <= 0 and (i + 1 == len(text) or text[i + 1] == " "):
            if re.search(r"(?:\be\.g|\bi\.e|\betc|\bvs)$", text[:i]):
                continue
            return text[:i].strip()
    return text.strip().rstrip(".")


def one_line(text: str, limit: int = LONG) -> str:
    """A meaning in one line: the first sentence; when longer than ``limit``, up to its first colon or
    semicolon outside brackets (what follows is the why), then without its asides in brackets;
    docstring ````code```` as markdown `code`."""
    text = first_sentence(text)
    if len(text) > limit:
        depth = 0
        for i, char in enumerate(text):
            depth += char in "([{"
            depth -= char in ")]}"
            if char in ":;" and depth <= 0 and i >= 30 and text[i + 1:i + 2] == " ":
                text = text[:i]
                break
    if len(text) > limit:  # still long: without its asides in brackets
        text = re.sub(r" +", " ", _without_brackets(text)).replace(" ,", ",")
    return text.replace("``", "`").strip()


def _without_brackets(text: str) -> str:
    out, depth = [], 0
    for char in text:
        depth += char == "("
        if depth == 0:
            out.append(char)
        depth -= char == ")" and depth > 0
    return "".join(out)


def meanings(cls: type, command: str, section: str) -> dict[str, str]:
    """Field -> one-line meaning: the field's docstring, else :data:`NOTES`, else the class docstring's
    entry for it alone, else an entry it shares with other fields; '' when none says."""
    names = [f.name for f in dataclasses.fields(cls)]
    own, entries = _attribute_docs(cls), _class_doc_entries(cls, set(names))
    out = {}
    for name in names:
        alone, shared = entries.get(name, ("", ""))
        text = own.get(name) or NOTES.get(f"{command}.{section}.{name}") or alone or shared
        out[name] = one_line(text) if text else ""
    return out


def unit(command: str, section: str, key: str, annotation: Any) -> str:
    """The setting's unit: :data:`UNITS`, else the name's suffix, else '' (counts, flags, names)."""
    named = UNITS.get(f"{command}.{section}.{key}")
    if named is not None:
        return named
    if annotation in (int, float):
        for suffix, text in SUFFIX_UNITS:
            if key.endswith(suffix):
                return text
    return ""


# ------------------------------------------------------------------------------------ settings


def project_relative(value: Any) -> Any:
    """A path inside this project as relative to it (the shipped models' defaults), else as it is."""
    from walkout.config import PROJECT_ROOT

    if isinstance(value, str) and value.startswith(str(PROJECT_ROOT) + "/"):
        return value[len(str(PROJECT_ROOT)) + 1:]
    return value


def _sections(config: Any, command: str, top_section: str | None) -> list[tuple[str, type, Any]]:
    """(section name, dataclass, default instance) of a root config; its plain fields as ``top_section``."""
    types = field_types(type(config))
    out = [(n, t, getattr(config, n)) for n, t in types.items() if dataclasses.is_dataclass(t)]
    if top_section is not None:
        out.append((top_section, type(config), config))
    return out


@cache
def settings(command: str | None = None) -> tuple[Setting, ...]:
    """Every setting of `walkout run` (``command="run"``), `walkout fuse` (``"fuse"``) or both (None),
    in the order of the config classes."""
    from fusion.pipeline import FuseConfig
    from walkout.config import PipelineConfig

    roots = {"run": (PipelineConfig(), "pipeline"), "fuse": (FuseConfig(), None)}
    out = []
    for name, (config, top) in roots.items():
        if command not in (None, name):
            continue
        for section, cls, default in _sections(config, name, top):
            types = field_types(cls)
            meaning = meanings(cls, name, section)
            for f in dataclasses.fields(cls):
                kind = types[f.name]
                if dataclasses.is_dataclass(kind):
                    continue
                out.append(Setting(name, section, f.name, type_name(kind), unit(name, section, f.name, kind),
                                   getattr(default, f.name), meaning[f.name]))
    return tuple(out)


# ------------------------------------------------------------------------------------ printing


def toml_value(value: Any) -> str:
    """A default as TOML writes it (strings quoted, lists as arrays, tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


HEADERS = {
    "run": "`walkout run --config FILE` (also benchmarks/accuracy.py --config)",
    "fuse": "`walkout fuse --config FILE` (also benchmarks/refuse.py --config)",
}


def defaults_toml(command: str) -> str:
    """The defaults of one command as a TOML file, each setting with its type, unit and meaning as a
    comment: a valid config (``walkout config --check`` passes it) to copy and edit."""
    lines = [f"# Settings of {HEADERS[command]}, at their defaults (walkout config --defaults --for {command}).",
             "# Every key is optional: a file holds only what it changes."]
    section = None
    for s in settings(command):
        if s.section != section:
            section = s.section
            lines += ["", f"[{section}]"]
        unit_text = f", {s.unit}" if s.unit else ""
        lines.append(f"# {s.meaning} ({s.kind}{unit_text})")
        lines.append(f"{s.key} = {toml_value(s.default)}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def section_summary(cls: type) -> str:
    """The first sentence of a section's class docstring, unless it is already a setting's entry."""
    doc = inspect.getdoc(cls) or ""
    first = first_sentence(doc.split("\n\n")[0])
    names = {f.name for f in dataclasses.fields(cls)}
    if not first or re.match(r"(?:``)?(\w+)(?:``)?\s*(?:,|:)", first) and re.match(r"(?:``)?(\w+)", first)[1] in names:
        return ""
    return first.replace("``", "`")


INTROS = {
    "run": "Vision: detection, tracking, identity repair, hands, reaches, events and store-level shoppers.",
    "fuse": "Fusion: the weight log, weight events, what was taken (identify), matching vision to the weights "
            "(reconcile) and who took it (attribution).",
}


def markdown() -> str:
    """docs/CONFIG.md: every setting of both commands, a table per section."""
    from fusion.pipeline import FuseConfig
    from walkout.config import PipelineConfig

    roots = {"run": PipelineConfig, "fuse": FuseConfig}
    out = [
        "# Settings of `walkout run` and `walkout fuse`",
        "",
        f"Generated from the config classes by `{MARKDOWN_COMMAND}`; do not edit by hand",
        "(tests/walkout/test_walkout_config_reference.py checks it is current). A meaning comes from the",
        "field's docstring in the code (the class named under each section); change it there and regenerate.",
        "",
        "A config file is TOML (`.toml`) or YAML (`.yaml`, `.yml`) with one table per section; every key is",
        "optional and a file holds only what it changes. `walkout config --check FILE` validates one (an",
        "unknown section or key, or a value of the wrong type, such as `\"0.5\"` in quotes where a number",
        "is expected, is an error naming the file, section and key). `walkout config --defaults --for run`",
        "(or `fuse`) prints the defaults as a file to start from.",
        "",
        "Units: s seconds (every duration, at any camera frame rate), g grams, m metres, px pixels, frames",
        "a number of video frames (a batch size); 0-1 a probability or share; × a multiple of what follows.",
        "",
    ]
    for command, root in roots.items():
        ours = settings(command)
        types = field_types(root)
        sections = list(dict.fromkeys(s.section for s in ours))
        out += [f"## `walkout {command} --config FILE` ({len(ours)} settings)", "", INTROS[command], ""]
        out += ["Sections: " + ", ".join(f"[`[{s}]`](#{command}-{s.replace('_', '-')})" for s in sections) + ".", ""]
        for section in sections:
            cls = types.get(section, root)
            rows = [s for s in ours if s.section == section]
            summary = section_summary(cls) if section in types else ""
            where = f"`{cls.__module__}.{cls.__name__}`"
            out += [f'<a id="{command}-{section.replace("_", "-")}"></a>', "", f"### `[{section}]`", ""]
            out += [(f"{summary}. " if summary else "") + f"Defined by {where}.", ""]
            out += ["| key | default | unit | type | meaning |", "|---|---|---|---|---|"]
            for s in rows:
                default = _cell(toml_value(project_relative(s.default)))
                out.append(f"| `{s.key}` | `{default}` | {s.unit} | {s.kind} | {_cell(s.meaning)} |")
            out.append("")
    return "\n".join(out)
