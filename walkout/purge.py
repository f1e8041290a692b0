"""Retention and deletion of run outputs (see PRIVACY.md).

- :func:`purge_older` deletes the recording folders of a ``walkout run --out`` folder whose run
  finished more than a given time ago (the manifest's ``timings.finished``; a folder the manifest
  does not list: its newest file's modification time), and their manifest entries.
- :func:`purge_shopper` removes one shopper from every output of one recording's run folder: their
  rows of every table (a ``shopper`` column, else their track ids in ``track_id`` / ``owner`` and in
  the MOTChallenge ``tracks/<camera>.txt``), their entry of timeline.json and receipts.json, and
  every picture of the run (annotated videos, contact sheets: they show everyone; ``walkout
  annotate`` draws them again without the shopper's rows). Every other line of every file is kept
  byte for byte.

Both are atomic. A shopper purge builds the new folder beside the old one (unchanged files are hard
links, so they stay byte-identical with their modification times), then swaps the two folders with
two renames (named like ``walkout run``'s own leftovers, which the next run tidies); an error before
the swap changes nothing. Both record what they did, never the data: which shopper or folders, when,
and which files, in ``purge_log.json`` (the run folder's for a shopper, the output folder's for
retention). Both take the output folder's run lock, so they never race a ``walkout run``, and keep its
manifest current: a purged folder is not redone by the next run (``--force`` would redo it, and bring
the shopper back: purge again after a forced re-run, or delete the recording).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from formats.errors import FormatError
from formats.tables import write_json_atomic
from walkout.manifest import MANIFEST_NAME, load_manifest, output_files, run_lock, write_manifest

log = logging.getLogger(__name__)

PURGE_LOG = "purge_log.json"
PURGE_LOG_VERSION = 1
# Same names as walkout.batch's (not imported: it loads the vision stack).
LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")
RUN_FILES = ("run.json", "events.csv", "tracks.csv", "hands.csv", "timeline.json", "receipts.json")
PICTURE_SUFFIXES = (".mp4", ".avi", ".png", ".jpg", ".jpeg")
DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d|w)\s*$")
UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_duration(text: str) -> float:
    """'12h', '30d', '2w', '90m', '45s' -> seconds; ValueError with the accepted forms otherwise."""
    match = DURATION.match(str(text))
    if match is None:
        raise ValueError(f"bad duration {text!r}: a number and a unit, e.g. 12h, 30d, 2w (units: s, m, h, d, w)")
    return float(match["value"]) * UNIT_S[match["unit"]]


def _busy(out_root: Path) -> FormatError:
    return FormatError(out_root, "a walkout run is writing into this folder; purge when it is done")


def _append_log(path: Path, record: dict) -> None:
    """Add a record to a purge log (``{"version", "purges": [...]}``), written atomically."""
    payload = {"version": PURGE_LOG_VERSION, "purges": []}
    if path.is_file():
        try:
            payload = json.loads(path.read_text())
        except ValueError:
            payload = {"version": PURGE_LOG_VERSION, "purges": [], "unreadable_before": time.time()}
    payload.setdefault("purges", []).append(record)
    write_json_atomic(payload, path)


def _now() -> dict:
    now = time.time()
    return {"at": round(now, 3), "at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}


# ------------------------------------------------------------------------------------------ retention


@dataclass(frozen=True)
class Expired:
    """A run folder past retention: its name, when its run finished (Unix s) and from where that is known."""

    name: str
    finished: float
    source: str  # "manifest" or "file times"


def _is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in RUN_FILES)


def _newest_mtime(folder: Path) -> float:
    times = [p.stat().st_mtime for p in folder.rglob("*") if p.is_file()]
    return max(times, default=folder.stat().st_mtime)


def expired_runs(out_root: Path, older_than_s: float, now: float | None = None) -> list[Expired]:
    """The recording folders of ``out_root`` whose run finished more than ``older_than_s`` ago."""
    out_root = Path(out_root)
    now = time.time() if now is None else now
    manifest = load_manifest(out_root) if (out_root / MANIFEST_NAME).is_file() else None
    entries = manifest.recordings if manifest is not None else {}
    found = []
    for child in sorted(out_root.iterdir()):
        listed = entries.get(child.name)
        leftover = LEFTOVER.match(child.name) is not None
        if not (listed is not None or _is_run_folder(child) or (leftover and child.is_dir())):
            continue
        if not child.is_dir():
            continue
        finished = (listed.timings or {}).get("finished") if listed is not None else None
        source = "manifest" if finished else "file times"
        finished = float(finished) if finished else _newest_mtime(child)
        if now - finished > older_than_s:
            found.append(Expired(child.name, finished, source))
    return found


def purge_older(out_root: str | Path, older_than_s: float, *, dry_run: bool = False,
                now: float | None = None) -> list[Expired]:
    """Delete the run folders of ``out_root`` older than ``older_than_s`` seconds (see
    :func:`expired_runs`) and their manifest entries; record it in ``out_root/purge_log.json``.
    ``dry_run``: only list them. Returns what was (or would be) deleted."""
    out_root = Path(out_root)
    if not out_root.is_dir():
        raise FormatError(out_root, "not a folder (give the --out folder of walkout run)")
    if older_than_s < 0:
        raise ValueError("--older-than must not be negative")
    with run_lock(out_root, _busy(out_root)):
        expired = expired_runs(out_root, older_than_s, now)
        if dry_run or not expired:
            return expired
        aside = []
        for item in expired:
            # Renamed away first: a deletion stopped half-way never leaves a half-deleted run folder
            # that looks complete (the next purge or run removes the leftover).
            target = out_root / f".{item.name}.old-{os.getpid()}"
            os.rename(out_root / item.name, target)
            aside.append(target)
        if (out_root / MANIFEST_NAME).is_file():
            manifest = load_manifest(out_root)
            kept = {k: v for k, v in manifest.recordings.items() if k not in {e.name for e in expired}}
            write_manifest(out_root, replace(manifest, recordings=kept))
        for folder in aside:
            shutil.rmtree(folder)
        _append_log(out_root / PURGE_LOG, {
            **_now(), "kind": "retention", "older_than_s": older_than_s,
            "deleted": [{"folder": e.name, "finished": round(e.finished, 3), "from": e.source} for e in expired],
        })
    log.info("%s: deleted %d run folder(s) older than %.0f s", out_root, len(expired), older_than_s)
    return expired


# ------------------------------------------------------------------------------------------ one shopper


def _norm(value: object) -> str:
    """An id as text, '3.0' and ' 3' read as '3'."""
    text = str(value).strip()
    with contextlib.suppress(ValueError):
        number = float(text)
        if number.is_integer():
            return str(int(number))
    return text


@dataclass(frozen=True)
class FileChange:
    """What a purge does to one file: ``rows`` removed (lines, JSON entries) or ``deleted``."""

    path: str
    rows: int = 0
    deleted: bool = False

    def describe(self) -> str:
        return f"delete {self.path}" if self.deleted else f"rewrite {self.path}: {self.rows} row(s) of the shopper removed"


@dataclass(frozen=True)
class ShopperPurge:
    """The plan (and, once done, the record) of removing one shopper from a run folder."""

    run_dir: Path
    shopper: str
    changes: tuple[FileChange, ...]
    contents: dict[str, bytes] = field(default_factory=dict, repr=False)  # new contents of rewritten files

    def to_dict(self) -> dict:
        return {
            "kind": "shopper", "shopper": self.shopper,
            "rewritten": {c.path: c.rows for c in self.changes if not c.deleted},
            "deleted": [c.path for c in self.changes if c.deleted],
        }


def _csv_rows(text: str) -> tuple[list[str], list[tuple[list[str], str]]]:
    """(header fields, [(fields, raw text of the row incl. its line end), ...]): the header's raw text
    and the rows' raw texts add up to ``text``, byte for byte (a quoted field may span lines)."""
    lines = text.splitlines(keepends=True)
    reader = csv.reader(iter(lines))
    rows, consumed = [], 0
    for fields in reader:
        raw = "".join(lines[consumed:reader.line_num])
        consumed = reader.line_num
        rows.append((fields, raw))
    if not rows:
        return [], []
    return rows[0][0], rows[1:]


def _shopper_tracks(run_dir: Path, shopper: str) -> dict[str, set[str]] | None:
    """Per camera the track ids of the shopper, from tracks.csv's ``shopper`` column (store-level ids);
    None when tracks.csv has no such column (then the shopper id is the track id on every camera)."""
    path = run_dir / "tracks.csv"
    if not path.is_file():
        return None
    header, rows = _csv_rows(path.read_text())
    if "shopper" not in header or "track_id" not in header:
        return None
    s, t = header.index("shopper"), header.index("track_id")
    c = header.index("camera") if "camera" in header else None
    tracks: dict[str, set[str]] = {}
    for fields, _ in rows:
        if len(fields) > max(s, t) and _norm(fields[s]) == shopper:
            tracks.setdefault(fields[c] if c is not None and c < len(fields) else "", set()).add(_norm(fields[t]))
    return tracks


def _matches(header: list[str], fields: list[str], shopper: str, tracks: dict[str, set[str]] | None) -> bool:
    """Whether a CSV row is the shopper's: its ``shopper`` column, else its (camera, track_id / owner)."""
    def get(column: str) -> str | None:
        index = header.index(column) if column in header else None
        return fields[index] if index is not None and index < len(fields) else None

    value = get("shopper")
    if value is not None:
        return _norm(value) == shopper
    track = get("track_id") if "track_id" in header else get("owner")
    if track is None:
        return False
    if tracks is None:
        return _norm(track) == shopper
    camera = get("camera") or ""
    return _norm(track) in tracks.get(camera, set()) or _norm(track) in tracks.get("", set())


def _plan_csv(path: Path, shopper: str, tracks: dict[str, set[str]] | None) -> tuple[int, bytes]:
    text = path.read_bytes().decode("utf-8")
    header, rows = _csv_rows(text)
    if not header:
        return 0, text.encode()
    kept = [text[:len(text) - sum(len(raw) for _, raw in rows)]]  # the header line(s), as they were
    removed = 0
    for fields, raw in rows:
        if _matches(header, fields, shopper, tracks):
            removed += 1
        else:
            kept.append(raw)
    return removed, "".join(kept).encode()


def _plan_mot(path: Path, camera: str, shopper: str, tracks: dict[str, set[str]] | None) -> tuple[int, bytes]:
    """MOTChallenge rows ``frame,id,x,y,w,h,...``: the shopper's track ids on that camera removed."""
    ids = {shopper} if tracks is None else tracks.get(camera, set())
    kept, removed = [], 0
    for line in path.read_bytes().decode("utf-8").splitlines(keepends=True):
        fields = line.split(",")
        if len(fields) > 1 and _norm(fields[1]) in ids:
            removed += 1
        else:
            kept.append(line)
    return removed, "".join(kept).encode()


def _json_text(payload: object) -> bytes:
    """JSON as walkout writes it (``formats.tables.write_json_atomic``)."""
    return (json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n").encode()


def _plan_json(path: Path, shopper: str) -> tuple[int, bytes] | None:
    """timeline.json (``shoppers``: a list of {shopper, ...}) and receipts.json (``shoppers``: {id: ...})."""
    try:
        payload = json.loads(path.read_text())
    except ValueError as exc:
        raise FormatError(path, f"not readable JSON: {exc}") from None
    shoppers = payload.get("shoppers") if isinstance(payload, dict) else None
    if isinstance(shoppers, list):
        kept = [s for s in shoppers if not (isinstance(s, dict) and _norm(s.get("shopper", "")) == shopper)]
        removed = len(shoppers) - len(kept)
        payload["shoppers"] = kept
    elif isinstance(shoppers, dict):
        gone = [k for k in shoppers if _norm(k) == shopper]
        removed = len(gone)
        payload["shoppers"] = {k: v for k, v in shoppers.items() if k not in gone}
    else:
        return None
    return removed, _json_text(payload)


def known_shoppers(run_dir: Path) -> list[str]:
    """Shopper ids a run folder holds (events, timeline, receipts, tracks), in numeric order."""
    ids: set[str] = set()
    for name, column in (("events.csv", "shopper"), ("tracks.csv", "shopper"), ("reaches.csv", "shopper"),
                         ("discrepancies.csv", "shopper")):
        path = run_dir / name
        if path.is_file():
            header, rows = _csv_rows(path.read_text())
            if column not in header and name == "tracks.csv":
                column = "track_id"
            if column in header:
                i = header.index(column)
                ids |= {_norm(f[i]) for f, _ in rows if i < len(f) and str(f[i]).strip()}
    for name in ("timeline.json", "receipts.json"):
        path = run_dir / name
        if path.is_file():
            with contextlib.suppress(ValueError):
                shoppers = json.loads(path.read_text()).get("shoppers")
                if isinstance(shoppers, list):
                    ids |= {_norm(s.get("shopper", "")) for s in shoppers if isinstance(s, dict)}
                elif isinstance(shoppers, dict):
                    ids |= {_norm(k) for k in shoppers}
    ids.discard("")
    return sorted(ids, key=lambda s: (not s.lstrip("-").isdigit(), int(s) if s.lstrip("-").isdigit() else 0, s))


def plan_shopper_purge(run_dir: str | Path, shopper: str) -> ShopperPurge:
    """What removing ``shopper`` from a run folder changes, with the new file contents (nothing is
    written). FormatError when the folder is not a run folder or does not have that shopper."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FormatError(run_dir, "run folder not found")
    if not _is_run_folder(run_dir):
        raise FormatError(run_dir, f"not a run folder of one recording (none of {', '.join(RUN_FILES)})")
    shopper = _norm(shopper)
    known = known_shoppers(run_dir)
    if shopper not in known:
        raise FormatError(run_dir, f"no shopper {shopper!r} in this run (shoppers: {', '.join(known) or 'none'}); "
                                   "nothing changed")
    tracks = _shopper_tracks(run_dir, shopper)
    changes, contents = [], {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(run_dir).as_posix()
        if relative == PURGE_LOG:
            continue
        if path.suffix.lower() in PICTURE_SUFFIXES:
            changes.append(FileChange(relative, deleted=True))
            continue
        if path.suffix == ".csv":
            planned = _plan_csv(path, shopper, tracks)
        elif path.suffix == ".txt" and path.parent.name == "tracks":
            planned = _plan_mot(path, path.stem, shopper, tracks)
        elif path.suffix == ".json" and path.name != "run.json":
            planned = _plan_json(path, shopper)
        else:
            planned = None
        if planned is not None and planned[0]:
            changes.append(FileChange(relative, rows=planned[0]))
            contents[relative] = planned[1]
    return ShopperPurge(run_dir, shopper, tuple(changes), contents)


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)  # same bytes and modification time, no copy
    except OSError:
        shutil.copy2(source, target)


def purge_shopper(run_dir: str | Path, shopper: str, *, dry_run: bool = False) -> ShopperPurge:
    """Remove one shopper from every output of one recording's run folder (see the module docstring);
    ``dry_run``: only plan. All or nothing: the new folder is built aside and swapped in. The purge is
    recorded in ``run_dir/purge_log.json`` (shopper id, time, files; not the data) and the output
    folder's manifest entry is updated so the next ``walkout run`` does not redo the folder."""
    run_dir = Path(run_dir).resolve()
    out_root = run_dir.parent
    lock = run_lock(out_root, _busy(out_root)) if (out_root / MANIFEST_NAME).is_file() else contextlib.nullcontext()
    with lock:
        plan = plan_shopper_purge(run_dir, shopper)
        if dry_run:
            return plan
        staged = out_root / f".{run_dir.name}.partial-{os.getpid()}"
        old = out_root / f".{run_dir.name}.old-{os.getpid()}"
        shutil.rmtree(staged, ignore_errors=True)
        deleted = {c.path for c in plan.changes if c.deleted}
        try:
            staged.mkdir()
            for path in sorted(run_dir.rglob("*")):
                relative = path.relative_to(run_dir).as_posix()
                target = staged / relative
                if path.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                elif relative in plan.contents:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(plan.contents[relative])
                    shutil.copymode(path, target)
                elif relative not in deleted:
                    _link_or_copy(path, target)
            record = {**_now(), **plan.to_dict()}
            if (run_dir / PURGE_LOG).is_file():
                shutil.copy2(run_dir / PURGE_LOG, staged / PURGE_LOG)
            _append_log(staged / PURGE_LOG, record)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        os.rename(run_dir, old)
        try:
            os.rename(staged, run_dir)
        except BaseException:
            os.rename(old, run_dir)
            shutil.rmtree(staged, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
        _update_manifest(out_root, run_dir)
    log.info("%s: shopper %s purged (%d file(s) rewritten, %d deleted)", run_dir, plan.shopper,
             sum(not c.deleted for c in plan.changes), sum(c.deleted for c in plan.changes))
    return plan


def _update_manifest(out_root: Path, run_dir: Path) -> None:
    """The run folder's manifest entry lists its files as they are now, vision's and fusion's (a purge is
    not a change the next run should undo)."""
    if not (out_root / MANIFEST_NAME).is_file():
        return
    manifest = load_manifest(out_root)
    entry = manifest.recordings.get(run_dir.name)
    if entry is None:
        return
    from walkout.fuse_step import FUSED_FILES, refreshed_record

    outputs = {name: stat for name, stat in output_files(run_dir).items() if name not in FUSED_FILES}
    fuse = refreshed_record(entry.fuse, run_dir)
    write_manifest(out_root, manifest.with_entry(replace(entry, outputs=outputs, fuse=fuse)))


def describe_plan(plan: ShopperPurge) -> str:
    """Lines naming every file a shopper purge changes."""
    out = io.StringIO()
    for change in plan.changes:
        out.write(f"{change.describe()}\n")
    return out.getvalue()
