"""The file contract between walkout's stages: one module per file kind, each owning its schema,
reader and writer (docs/FORMAT.md).

- :mod:`formats.errors`: :class:`FormatError`, the one error for bad input files.
- :mod:`formats.store`: store.json (cameras, clocks, zones, calibrations, shelf and plate boxes).
- :mod:`formats.tables`: the CSV tables (catalog, planogram, events, and the column schemas of every
  table vision writes: tracks, hands, reaches, shoppers).
- :mod:`formats.weight_events`: weight_events.csv (fusion's settled weight changes).
- :mod:`formats.receipts`: receipts.json and discrepancies.csv (fusion's receipt lines).

Imports numpy and pandas only: vision, fusion, the bench and inspect all import it, and fusion must
stay free of cv2 and torch.
"""
