"""Weight logs + catalog + planogram (+ vision events) -> verified receipts.

Never imports vision, cv2, torch or ultralytics: it must import fast and run on a bare server.
"""

from __future__ import annotations

__all__ = ["fuse_recording"]


def __getattr__(name: str):
    # Lazy, so importing a fusion module does not pay for scipy.
    if name == "fuse_recording":
        from fusion.pipeline import fuse_recording

        return fuse_recording
    raise AttributeError(f"module 'fusion' has no attribute {name!r}")
