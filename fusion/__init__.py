"""Weight logs + catalog + planogram (+ vision events) -> verified receipts.

Never imports vision, cv2, torch or ultralytics: it must import fast and run on a bare server.
"""
