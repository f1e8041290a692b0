"""The run manifest: which recordings of an output folder are complete, and from what.

``OUT/manifest.json`` (versioned, written atomically by the one process that drives a run) holds one
entry per recording: the fingerprints of its inputs, of the model and of the config, the package
versions, the status (``done`` or ``failed``), the error text, the output files and the timings. A
recording counts as complete only when its entry is ``done``, its inputs, model and config still
have the same fingerprints, the requested extras (baselines, annotation) were made, and every
output file listed is still there with the size and modification time it had when it was written.
Package versions are recorded, not compared: upgrading a library does not redo finished recordings
(``--force`` does).

Fingerprints. A file up to ``HashConfig.full_hash_max_bytes`` is hashed whole (``sha256:<hex>``,
content only, so copying or touching it changes nothing). A bigger file gets ``sampled:<hex>``: the
sha256 of its size, its modification time (ns) and its first and last ``sample_bytes``; a change in
the middle of a big video that keeps size and mtime is not seen (no tool writes files that way).
A folder (an OpenVINO model) is the hash of its files' relative paths and fingerprints.
The inputs of ``walkout run`` are ``store.json``, ``catalog.csv``, ``planogram.csv`` and the videos
named in store.json; weight logs and truth files are not read by the run and are not hashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from formats.tables import write_json_atomic

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
STATUS_DONE = "done"
STATUS_FAILED = "failed"
RUN_INPUT_FILES = ("store.json", "catalog.csv", "planogram.csv")
MISSING = "missing"


@dataclass(frozen=True)
class HashConfig:
    """``full_hash_max_bytes``: files up to this size are hashed whole; ``sample_bytes``: bytes read
    from each end of a bigger file (see the module docstring)."""

    full_hash_max_bytes: int = 64 * 2**20
    sample_bytes: int = 2**20

    def describe(self) -> str:
        return (
            f"files <= {self.full_hash_max_bytes} bytes: sha256 of the content; bigger files: sha256 of "
            f"size, mtime_ns, first and last {self.sample_bytes} bytes"
        )


def fingerprint_file(path: Path, config: HashConfig | None = None) -> str:
    """``sha256:<hex>`` of a small file, ``sampled:<hex>`` of a big one, ``missing`` if absent."""
    config = config or HashConfig()
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{child.relative_to(path).as_posix()}={fingerprint_file(child, config)}\n".encode())
        return f"folder:{digest.hexdigest()}"
    try:
        stat = path.stat()
    except OSError:
        return MISSING
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        if stat.st_size <= config.full_hash_max_bytes:
            while chunk := stream.read(2**20):
                digest.update(chunk)
            return f"sha256:{digest.hexdigest()}"
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}:".encode())
        digest.update(stream.read(config.sample_bytes))
        stream.seek(max(0, stat.st_size - config.sample_bytes))
        digest.update(stream.read(config.sample_bytes))
    return f"sampled:{digest.hexdigest()}"


def _named_videos(store_json: Path) -> list[str]:
    """Video paths named by store.json, read leniently (the loader reports a bad store.json)."""
    try:
        store = json.loads(store_json.read_text())
        cameras = store.get("cameras", []) if isinstance(store, dict) else []
        return sorted({c["video"] for c in cameras if isinstance(c, dict) and isinstance(c.get("video"), str)})
    except (OSError, ValueError, RecursionError):
        return []


def recording_inputs(recording: Path, config: HashConfig | None = None) -> dict[str, str]:
    """Fingerprints of what ``walkout run`` reads from a recording: {relative path: fingerprint}."""
    recording = Path(recording)
    names = [*RUN_INPUT_FILES, *_named_videos(recording / "store.json")]
    return {name: fingerprint_file(recording / name, config) for name in names}


def config_fingerprint(payload: dict) -> str:
    """sha256 of a JSON document with sorted keys (a config as ``to_dict()`` gives it)."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"


def output_files(folder: Path) -> dict[str, dict[str, int]]:
    """Every file under ``folder``: {relative posix path: {"bytes": size, "mtime_ns": mtime}}."""
    folder = Path(folder)
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        found[path.relative_to(folder).as_posix()] = {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return found


def outputs_changed(outputs: dict[str, dict[str, int]], out_dir: Path) -> str:
    """Why the files recorded as ``outputs`` (as :func:`output_files` gives them) no longer stand for
    what was written into ``out_dir`` ('' if every one is there, unchanged)."""
    for relative, stat in outputs.items():
        path = out_dir / relative
        try:
            now = path.stat()
        except OSError:
            return f"output missing: {path}"
        if (now.st_size, now.st_mtime_ns) != (stat["bytes"], stat["mtime_ns"]):
            return f"output changed since it was written: {path}"
    if not outputs:
        return "no outputs recorded"
    return ""


@dataclass(frozen=True)
class RecordingEntry:
    """One recording's line in the manifest.

    inputs: {relative path: fingerprint}; model: {"detector": fp, "hand_model": fp or None, "classifier": fp or None};
    options: extras this output has ({"baselines": bool, "annotate": bool});
    outputs: {relative path: {"bytes", "mtime_ns"}} of ``OUT/<name>/``;
    timings: {"started", "finished"} (Unix s), {"seconds"} wall time of the attempt, "attempts";
    worker: {"host", "pid"} that made it;
    fuse: the record of its last fusion in the batch ({} when never fused there; walkout.fuse_step).
    """

    name: str
    recording: str
    status: str
    error: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    model: dict[str, str | None] = field(default_factory=dict)
    config: str = ""
    options: dict[str, bool] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, int]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    worker: dict[str, str | int] = field(default_factory=dict)
    shoppers: int = 0
    events: int = 0
    warnings: tuple[str, ...] = ()
    fuse: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "recording": self.recording, "status": self.status, "error": self.error,
            "inputs": self.inputs, "model": self.model, "config": self.config, "options": self.options,
            "versions": self.versions, "outputs": self.outputs, "timings": self.timings,
            "worker": self.worker, "shoppers": self.shoppers, "events": self.events,
            "warnings": list(self.warnings), "fuse": self.fuse,
        }

    @classmethod
    def from_dict(cls, data: dict) -> RecordingEntry:
        return cls(**{**data, "warnings": tuple(data.get("warnings", ()))})

    def stale_because(
        self, inputs: dict[str, str], model: dict[str, str | None], config: str,
        options: dict[str, bool], out_dir: Path,
    ) -> str:
        """Why this entry does not stand for a complete, current output ('' if it does)."""
        if self.status != STATUS_DONE:
            return f"last attempt {self.status}" + (f": {self.error}" if self.error else "")
        changed = sorted(k for k in set(inputs) | set(self.inputs) if inputs.get(k) != self.inputs.get(k))
        if changed:
            return f"input(s) changed: {', '.join(changed)}"
        if model != self.model:
            return "model changed"
        if config != self.config:
            return "config changed"
        lacking = sorted(k for k, wanted in options.items() if wanted and not self.options.get(k))
        if lacking:
            return f"not made with {', '.join(lacking)}"
        return outputs_changed(self.outputs, out_dir)


@dataclass(frozen=True)
class Manifest:
    """All entries of an output folder, by recording name."""

    recordings: dict[str, RecordingEntry] = field(default_factory=dict)
    hashing: str = HashConfig().describe()

    def with_entry(self, entry: RecordingEntry) -> Manifest:
        return replace(self, recordings={**self.recordings, entry.name: entry})

    def to_dict(self) -> dict:
        return {
            "version": MANIFEST_VERSION,
            "hashing": self.hashing,
            "recordings": {name: entry.to_dict() for name, entry in sorted(self.recordings.items())},
        }


def load_manifest(out_dir: Path, hashing: HashConfig | None = None) -> Manifest:
    """The manifest of ``out_dir``; empty when there is none. An unreadable one (or another version)
    is kept aside as ``manifest.json.unreadable-<time>`` with a warning, and every recording is redone."""
    hashing = hashing or HashConfig()
    path = Path(out_dir) / MANIFEST_NAME
    if not path.is_file():
        return Manifest(hashing=hashing.describe())
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            raise ValueError(f"version {data.get('version') if isinstance(data, dict) else None!r}, "
                             f"expected {MANIFEST_VERSION}")
        entries = {name: RecordingEntry.from_dict(raw) for name, raw in data["recordings"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        aside = path.with_name(f"{MANIFEST_NAME}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}")
        os.replace(path, aside)
        log.warning("%s: unreadable manifest (%s); kept as %s, every recording will be redone", path, exc, aside.name)
        return Manifest(hashing=hashing.describe())
    if data.get("hashing") != hashing.describe():
        log.info("%s: made with other hashing settings; inputs will be re-fingerprinted and redone", path)
    return Manifest(entries, hashing.describe())


def write_manifest(out_dir: Path, manifest: Manifest) -> Path:
    """Write ``OUT/manifest.json`` atomically (temporary name, then rename)."""
    return write_json_atomic(manifest.to_dict(), Path(out_dir) / MANIFEST_NAME)


def package_versions() -> dict[str, str]:
    """Versions of the packages a run's outputs depend on, without importing them."""
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("walkout", "numpy", "opencv-python-headless", "torch", "ultralytics", "supervision", "trackers"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


LOCK_NAME = ".walkout-run.lock"


@contextlib.contextmanager
def run_lock(out_root: Path, busy: Exception) -> Iterator[None]:
    """One writer at a time per output folder (``walkout run``, ``walkout purge``): an advisory lock
    on ``OUT/.walkout-run.lock`` that the kernel releases when the holder dies, so a killed run never
    blocks the next one. Raises ``busy`` when another process holds it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with (out_root / LOCK_NAME).open("a") as stream:
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)
