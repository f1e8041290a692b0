#!/usr/bin/env bash
# Real-camera benchmark: the AiFi ceiling camera cam6 of aifi-cps-test-2 (../shared/data), run with the
# offline MediaPipe backend and the zones of benchmarks/aifi/cam6_zones.json, scored against its truth.
#
#   bash benchmarks/aifi/run.sh [OUT]        (default OUT: runs/aifi; needs `pip install -e ".[mediapipe]"`)
#
# Steps: check the zones against the image and planogram; build a working copy of the read-only
# recording with the zones merged into store.json (files symlinked, the video is never copied); run
# the pipeline; score product-level events with `walkout bench`; print the interaction timing (did a
# hand enter the labelled shelf near each labelled time?) and draw an overlay of each predicted event.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="${DATA:-$ROOT/../shared/data/aifi-cps-test-2}"
OUT="${1:-$ROOT/runs/aifi}"
WALKOUT="${WALKOUT:-walkout}"
PYTHON="${PYTHON:-python}"
if [ ! -f "$DATA/store.json" ]; then
    echo "no recording at $DATA (set DATA=...; the shared data lives in ../shared/data)" >&2
    exit 2
fi
NAME="$(basename "$DATA")"
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== zones"
"$WALKOUT" -q zones check "$DATA" --zones "$HERE/cam6_zones.json"
"$WALKOUT" -q zones apply "$DATA" --zones "$HERE/cam6_zones.json" --out "$OUT/recording/$NAME"
"$WALKOUT" -q zones frame "$OUT/recording/$NAME" --camera cam6 --at 30 --scale 2 --out "$OUT/overlays/cam6_zones.png"

echo "== run (MediaPipe backend, 'reach' held-item source)"
"$WALKOUT" -q run "$OUT/recording/$NAME" --out "$OUT/run" --config "$HERE/walkout.toml"
cat "$OUT/run/$NAME/events.csv"

echo "== bench"
"$WALKOUT" -q bench "$OUT/recording/$NAME" --predictions "$OUT/run" --out "$OUT/report"

echo "== interaction timing"
"$PYTHON" "$HERE/interaction_timing.py" "$OUT/recording/$NAME" "$OUT/run/$NAME" --tolerance 1.5 \
    --overlays "$OUT/overlays" --frames cam6:70,cam6:150,cam6:300 2>/dev/null
echo "report: $OUT/report/report.md; overlays: $OUT/overlays/"
