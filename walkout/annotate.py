"""Pictures of a run drawn onto its videos: annotated videos and a contact sheet of every event.

``annotate_recording(recording, run_dir)`` writes, into the run directory,

- ``annotated/<camera>.mp4``: every frame with the shopper boxes and track ids, each hand (in its
  shopper's colour) with the region the held item is looked for and what it holds, the shelf zones
  (filled while a hand is inside), and a banner for each event around its time;
- ``events_contact_sheet.png``: one row per event, the frames before, during and after it, cropped
  around the hand, with the hand and held-item boxes and the event's zone highlighted.

Drawing is done with supervision annotators by :class:`FrameAnnotator`, which ``walkout.inspect.
frame_at`` uses too. Every picture is anonymised first (``walkout.anonymize``, PRIVACY.md): faces found
by the face detector and the head region of every tracked shopper box of the frame are pixelated
before anything is drawn. ``anonymize=False`` (``--no-anonymize``) is for a store's own secured
review only, and logs a warning. Hands are points in hands.csv: their box is a square of ``hand_box_share`` of
the owner's box height (the pose-hand rule), the held-item region that box scaled by the run's
``held.hand_box_scale`` (where vision looks for the product).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import supervision as sv

from formats.errors import FormatError
from walkout.anonymize import Anonymizer, VideoAnonymizer, warn_disabled
from walkout.inspect import Run, load_run, read_frame

log = logging.getLogger(__name__)

PICK_COLOR = sv.Color.from_hex("#2ca02c")
RETURN_COLOR = sv.Color.from_hex("#ff7f0e")
ZONE_COLOR = sv.Color(r=235, g=235, b=235)
# Track colours: tab10 without its green and orange, which mean pick and return.
TRACK_PALETTE = sv.ColorPalette.from_hex(
    ["#1f77b4", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
)
TEXT_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class AnnotateConfig:
    """How annotations look.

    hand_box_share: side of a hand's box as a share of its owner's box height.
    hand_box_min_px: the smallest hand box side (pixels), also used when the owner's box is unknown.
    hand_box_scale: held-item region = hand box x this (None: the run's ``held.hand_box_scale``).
    event_window_s: an event's banner shows this long before and after its frame.
    context_s: the contact sheet's before/after frames are this long before and after the event's frame.
    crop_share: the contact sheet crops this share of the frame's width and height around the hand.
    tile_width_px: width of one contact-sheet picture.
    text_scale: OpenCV text scale of labels.
    """

    hand_box_share: float = 0.12
    hand_box_min_px: float = 12.0
    hand_box_scale: float | None = None
    event_window_s: float = 1.0
    context_s: float = 1.0
    crop_share: float = 0.5
    tile_width_px: int = 480
    text_scale: float = 0.45


def _action_color(action: str) -> sv.Color:
    return PICK_COLOR if action == "pick" else RETURN_COLOR


def _event_text(event: pd.Series) -> str:
    plates = f"/{event['plates']}" if event["plates"] else ""
    quantity = int(event["quantity"])
    return f"{event['action'].upper()} {event['sku']} x{quantity} by #{event['shopper']} at {event['shelf']}{plates}"


def _put_text(scene: np.ndarray, text: str, x: int, y: int, color: sv.Color, background: sv.Color | None,
              scale: float, padding: int = 3) -> int:
    """Text with its top-left corner at (x, y); returns the y below it."""
    (width, height), _ = cv2.getTextSize(text, TEXT_FONT, scale, 1)
    x = int(np.clip(x, padding, max(padding, scene.shape[1] - width - padding)))
    sv.draw_text(scene, text, sv.Point(x + width // 2, y + padding + height // 2), text_color=color,
                 text_scale=scale, text_thickness=1, text_padding=padding, background_color=background)
    return y + height + 2 * padding + 1


class FrameAnnotator:
    """Draws one camera's run outputs onto its frames (BGR uint8 arrays), by frame index.

    Tables are indexed by frame once, so drawing a whole video costs a lookup per frame. With
    ``anonymize`` (the default) faces and tracked shoppers' heads are hidden before drawing.
    """

    def __init__(self, run: Run, camera: str, config: AnnotateConfig | None = None, *, anonymize: bool = True,
                 anonymizer: Anonymizer | None = None):
        self.run = run
        self.camera = run.camera(camera)
        self.config = config or AnnotateConfig()
        self.anonymize = anonymize
        self.anonymizer = (anonymizer or Anonymizer()) if anonymize else None
        if not anonymize:
            warn_disabled(f"{run.path} {self.camera.id}")
        held = (run.info.get("config") or {}).get("held") or {}
        self.hand_box_scale = self.config.hand_box_scale or float(held.get("hand_box_scale", 1.8))
        cam_id = self.camera.id
        tracks = run.tracks[run.tracks["camera"] == cam_id]
        hands = run.hands[run.hands["camera"] == cam_id]
        self.tracks = {int(f): g for f, g in tracks.groupby("frame")}
        # Rows without a position (held items reported apart from their hand) cannot be drawn.
        hands = hands[np.isfinite(hands["x"]) & np.isfinite(hands["y"])]
        self.hands = {int(f): g for f, g in hands.groupby("frame")}
        self.events = run.events[run.events["camera"] == cam_id].reset_index(drop=True)
        self.window_frames = int(round(self.config.event_window_s * max(self.camera.fps, 1.0)))
        self.polygons = [np.asarray(z.polygon, dtype=float).round().astype(np.int64) for z in self.camera.zones]
        scale = self.config.text_scale
        track = {"color": TRACK_PALETTE, "color_lookup": sv.ColorLookup.TRACK}
        self.box = sv.BoxAnnotator(**track, thickness=2)
        self.labels = sv.LabelAnnotator(**track, text_scale=scale, text_padding=3)
        self.hand_box = sv.BoxAnnotator(**track, thickness=2)
        self.held_box = sv.BoxCornerAnnotator(**track, thickness=2, corner_length=6)
        self.held_labels = sv.LabelAnnotator(**track, text_scale=scale * 0.85, text_padding=2,
                                             text_position=sv.Position.BOTTOM_CENTER)

    def person_boxes(self, frame_index: int) -> np.ndarray:
        """(M, 4) xyxy px of the shoppers tracked in a frame."""
        tracks = self.tracks.get(frame_index)
        if tracks is None:
            return np.empty((0, 4))
        return tracks[["x1", "y1", "x2", "y2"]].to_numpy(float)

    def hide(self, image: np.ndarray, frame_index: int, video: VideoAnonymizer | None = None) -> np.ndarray:
        """A copy of ``image`` (BGR) with its faces and the heads of the frame's tracked shoppers
        pixelated (a plain copy when anonymisation is off); ``video`` carries faces between frames."""
        if self.anonymizer is None:
            return image.copy()
        return (video or self.anonymizer).apply(image, self.person_boxes(frame_index))

    def zone_index(self, shelf: str, plates: str) -> int:
        """The camera's zone of a shelf and ';'-separated plates (-1 if none)."""
        wanted = tuple(int(p) for p in str(plates).split(";") if p)
        for index, zone in enumerate(self.camera.zones):
            if zone.shelf == shelf and (not wanted or tuple(zone.plates) == wanted):
                return index
        return -1

    def hand_detections(self, frame_index: int) -> sv.Detections:
        """The frame's hands as boxes (tracker_id = owner; data: sku, count, held_xyxy)."""
        hands = self.hands.get(frame_index)
        if hands is None or hands.empty:
            return sv.Detections.empty()
        tracks = self.tracks.get(frame_index)
        height = {}
        if tracks is not None:
            height = dict(zip(tracks["track_id"].astype(int), (tracks["y2"] - tracks["y1"]).astype(float), strict=True))
        owners = hands["owner"].to_numpy(int)
        side = np.array([max(self.config.hand_box_min_px, self.config.hand_box_share * height.get(o, 0.0)) for o in owners])
        centre = hands[["x", "y"]].to_numpy(float)
        half = np.column_stack([side, side]) / 2
        held_half = half * self.hand_box_scale
        return sv.Detections(
            xyxy=np.hstack([centre - half, centre + half]),
            class_id=np.zeros(len(hands), dtype=int),
            tracker_id=owners,
            data={
                "sku": hands["sku"].to_numpy(dtype=object),
                "count": hands["count"].to_numpy(int),
                "zone": hands["zone"].to_numpy(int),
                "held_xyxy": np.hstack([centre - held_half, centre + held_half]),
            },
        )

    def active_events(self, frame_index: int) -> pd.DataFrame:
        return self.events[(self.events["frame"] - frame_index).abs() <= self.window_frames]

    def draw(self, image: np.ndarray, frame_index: int, focus: pd.Series | None = None, *,
             video: VideoAnonymizer | None = None) -> np.ndarray:
        """A copy of ``image`` (BGR), anonymised (:meth:`hide`), with frame ``frame_index``'s annotations;
        ``focus``: an event row whose zone and banner are shown whatever the frame; ``video``: the
        video's anonymizer when frames are drawn in order."""
        scene = self.hide(image, frame_index, video)
        scale = self.config.text_scale
        hands = self.hand_detections(frame_index)
        events = self.active_events(frame_index) if focus is None else focus.to_frame().T
        occupied = {int(z) for z in hands.data["zone"]} if len(hands) else set()
        event_zones = {self.zone_index(e["shelf"], e["plates"]): e["action"] for _, e in events.iterrows()}
        for index, polygon in enumerate(self.polygons):
            if index in event_zones:
                scene = sv.draw_filled_polygon(scene, polygon, _action_color(event_zones[index]), opacity=0.45)
            elif index in occupied:
                scene = sv.draw_filled_polygon(scene, polygon, ZONE_COLOR, opacity=0.35)
            scene = sv.draw_polygon(scene, polygon, ZONE_COLOR, thickness=1)
        tracks = self.tracks.get(frame_index)
        if tracks is not None and len(tracks):
            shoppers = sv.Detections(
                xyxy=tracks[["x1", "y1", "x2", "y2"]].to_numpy(float),
                class_id=np.zeros(len(tracks), dtype=int),
                tracker_id=tracks["track_id"].to_numpy(int),
            )
            scene = self.box.annotate(scene, shoppers)
            # The store-level shopper (tracks.csv's ``shopper``) where the run has one, else the track id.
            names = tracks["shopper"].astype(str) if "shopper" in tracks.columns else [""] * len(tracks)
            labels = [f"#{s}" if s else f"#{t}" for s, t in zip(names, shoppers.tracker_id, strict=True)]
            scene = self.labels.annotate(scene, shoppers, labels=labels)
        if len(hands):
            scene = self.hand_box.annotate(scene, hands)
            holding = hands[hands.data["count"] > 0]
            if len(holding):
                held = sv.Detections(xyxy=holding.data["held_xyxy"], class_id=holding.class_id,
                                     tracker_id=holding.tracker_id)
                scene = self.held_box.annotate(scene, held)
                texts = [f"{s} x{c}" if s else f"? x{c}" for s, c in zip(holding.data["sku"], holding.data["count"], strict=True)]
                scene = self.held_labels.annotate(scene, held, labels=texts)
        y = 4
        for _, event in events.iterrows():
            y = _put_text(scene, _event_text(event), 4, y, sv.Color.WHITE, _action_color(event["action"]), scale)
        t_s = frame_index / self.camera.fps + self.camera.start_timestamp - self.run.t0 if self.camera.fps else 0.0
        clock = f"{self.camera.id}  frame {frame_index}  t {t_s:.1f} s"
        (width, height), _ = cv2.getTextSize(clock, TEXT_FONT, scale, 1)
        _put_text(scene, clock, scene.shape[1] - width - 8, scene.shape[0] - height - 10, sv.Color.WHITE,
                  sv.Color.BLACK, scale)
        return scene


def _write_atomic_video(path: Path, frames, fps: float, size: tuple[int, int]) -> int:
    """Write BGR frames to ``path`` (mp4v) under a temporary name, then rename; returns the frame count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    count = 0
    try:
        if not writer.isOpened():
            raise FormatError(path, "cannot open a video writer (mp4v)")
        for frame in frames:
            writer.write(frame)
            count += 1
        writer.release()
        os.replace(tmp, path)
    except BaseException:
        writer.release()
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def annotate_video(run: Run, camera: str, out_path: Path, config: AnnotateConfig | None = None, *,
                   anonymize: bool = True, anonymizer: Anonymizer | None = None) -> Path:
    """Every frame of one camera's video, anonymised and annotated, written to ``out_path`` (mp4v, same
    size and fps). A face found in a frame stays hidden a few frames more (``hold_frames``)."""
    annotator = FrameAnnotator(run, camera, config, anonymize=anonymize, anonymizer=anonymizer)
    video = VideoAnonymizer(annotator.anonymizer) if annotator.anonymizer is not None else None
    cam = annotator.camera
    if cam.video is None or not cam.video.is_file():
        raise FormatError(cam.video or run.path, f"camera {cam.id}: video not found")
    capture = cv2.VideoCapture(str(cam.video))
    if not capture.isOpened():
        raise FormatError(cam.video, "cannot open video")
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or cam.fps
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def frames():
        index = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok or frame is None:
                    return
                yield annotator.draw(frame, index, video=video)
                index += 1
        finally:
            capture.release()

    count = _write_atomic_video(out_path, frames(), fps, size)
    log.info("%s: %d annotated frames -> %s", cam.id, count, out_path)
    return out_path


def _event_frames(annotator: FrameAnnotator, event: pd.Series) -> tuple[int, int, int]:
    """(before, during, after) frame indices of an event: ``context_s`` around its frame, in the video."""
    cam = annotator.camera
    context = max(int(round(annotator.config.context_s * max(cam.fps, 1.0))), 1)
    last = max(cam.frames - 1, 0)
    during = min(max(int(event["frame"]), 0), last)
    return max(during - context, 0), during, min(during + context, last)


def _event_centre(annotator: FrameAnnotator, event: pd.Series, shape: tuple[int, ...]) -> tuple[float, float]:
    """Where to crop: the shopper's hand nearest the event's frame, else its zone, else the image centre."""
    hands = annotator.run.hands
    own = hands[(hands["camera"] == annotator.camera.id) & (hands["owner"].astype(str) == event["shopper"])
                & np.isfinite(hands["x"]) & np.isfinite(hands["y"])]
    near = own[(own["frame"] - int(event["frame"])).abs() <= annotator.window_frames]
    if len(near):
        row = near.iloc[(near["frame"] - int(event["frame"])).abs().argsort()[:1]]
        return float(row["x"].iloc[0]), float(row["y"].iloc[0])
    zone = annotator.zone_index(event["shelf"], event["plates"])
    if zone >= 0:
        xy = annotator.polygons[zone]
        return float(xy[:, 0].mean()), float(xy[:, 1].mean())
    return shape[1] / 2, shape[0] / 2


def _crop(image: np.ndarray, centre: tuple[float, float], share: float, width_px: int) -> np.ndarray:
    height, width = image.shape[:2]
    cw, ch = max(int(width * share), 1), max(int(height * share), 1)
    x0 = int(np.clip(centre[0] - cw / 2, 0, width - cw))
    y0 = int(np.clip(centre[1] - ch / 2, 0, height - ch))
    crop = image[y0:y0 + ch, x0:x0 + cw]
    out_h = int(round(ch * width_px / cw))
    return cv2.resize(crop, (width_px, out_h), interpolation=cv2.INTER_CUBIC if width_px > cw else cv2.INTER_AREA)


def _banner(width: int, text: str, scale: float, color: sv.Color, background: sv.Color) -> np.ndarray:
    (_, height), _ = cv2.getTextSize(text, TEXT_FONT, scale, 1)
    strip = np.full((height + 12, width, 3), background.as_bgr(), dtype=np.uint8)
    cv2.putText(strip, text, (6, height + 5), TEXT_FONT, scale, color.as_bgr(), 1, cv2.LINE_AA)
    return strip


def contact_sheet(run: Run, out_path: Path, config: AnnotateConfig | None = None, *, anonymize: bool = True,
                  anonymizer: Anonymizer | None = None) -> Path:
    """One row per event (time order): the anonymised, annotated frames before, during and after it,
    cropped around the hand, under a line naming the event (and its receipt status when fused).
    Written as PNG."""
    config = config or AnnotateConfig()
    anonymizer = (anonymizer or Anonymizer()) if anonymize else None
    tile = config.tile_width_px
    rows: list[np.ndarray] = []
    statuses = {}
    if run.fused:
        from walkout.inspect import _event_status

        statuses = _event_status(run).to_dict()
    annotators: dict[str, FrameAnnotator] = {}
    events = run.events.sort_values("timestamp", kind="stable")
    for number, (index, event) in enumerate(events.iterrows(), start=1):
        camera = str(event["camera"])
        try:
            if camera not in annotators:
                annotators[camera] = FrameAnnotator(run, camera, config, anonymize=anonymize, anonymizer=anonymizer)
            annotator = annotators[camera]
        except KeyError:
            log.warning("%s: event %d has unknown camera %r: not in the contact sheet", run.path, number, camera)
            continue
        if annotator.camera.video is None:
            log.warning("%s: camera %s has no video: event %d not in the contact sheet", run.path, camera, number)
            continue
        frames = _event_frames(annotator, event)
        images = [annotator.draw(read_frame(annotator.camera.video, f), f, focus=event) for f in frames]
        centre = _event_centre(annotator, event, images[0].shape)
        fps = max(annotator.camera.fps, 1.0)
        tiles = []
        for name, f, image in zip(("before", "during", "after"), frames, images, strict=True):
            crop = _crop(image, centre, config.crop_share, tile)
            offset = (f - frames[1]) / fps
            caption = f"{name}: frame {f} ({offset:+.1f} s)" if name != "during" else f"during: frame {f}"
            tiles.append(np.vstack([_banner(tile, caption, config.text_scale, sv.Color.BLACK, sv.Color(r=230, g=230, b=230)), crop]))
        status = statuses.get(index)
        title = f"{number}. t {event['t_s']:.1f} s  {camera}  {_event_text(event)}" + (f"  [{status}]" if status else "")
        body = np.hstack(tiles)
        rows.append(np.vstack([_banner(body.shape[1], title, config.text_scale * 1.2, sv.Color.WHITE,
                                       _action_color(event["action"])), body]))
    if not rows:
        sheet = _banner(3 * tile, f"{run.name}: no events", config.text_scale * 1.2, sv.Color.BLACK, sv.Color.WHITE)
    else:
        width = max(r.shape[1] for r in rows)
        gap = np.full((6, width, 3), 255, dtype=np.uint8)
        parts = []
        for row in rows:
            pad = np.full((row.shape[0], width - row.shape[1], 3), 255, dtype=np.uint8)
            parts += [np.hstack([row, pad]), gap]
        sheet = np.vstack(parts[:-1])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{out_path.stem}.", suffix=".png", dir=out_path.parent)
    os.close(handle)
    try:
        if not cv2.imwrite(tmp, sheet):
            raise FormatError(out_path, "cannot write PNG")
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("%s: contact sheet of %d event(s) -> %s", run.name, len(rows), out_path)
    return out_path


def annotate_recording(recording_path: Path, run_dir: Path, config: AnnotateConfig | None = None, *,
                       anonymize: bool = True) -> list[Path]:
    """Annotated videos (``run_dir/annotated/<camera>.mp4``) and the events contact sheet
    (``run_dir/events_contact_sheet.png``) of one recording's run, anonymised unless ``anonymize`` is
    False (a store's secured review; logged as a warning); returns the paths written (videos in camera
    order, then the sheet). Raises FormatError naming the file on bad input."""
    run = load_run(Path(run_dir), Path(recording_path))
    anonymizer = Anonymizer() if anonymize else None
    written = []
    for camera in run.cameras:
        if camera.video is None or not camera.video.is_file():
            log.warning("%s: camera %s has no video: not annotated", run.path, camera.id)
            continue
        written.append(annotate_video(run, camera.id, run.path / "annotated" / f"{camera.id}.mp4", config,
                                      anonymize=anonymize, anonymizer=anonymizer))
    written.append(contact_sheet(run, run.path / "events_contact_sheet.png", config, anonymize=anonymize,
                                 anonymizer=anonymizer))
    return written
