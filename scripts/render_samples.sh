#!/usr/bin/env bash
# Render the committed sample recordings from their scenario files (deterministic).
set -euo pipefail
cd "$(dirname "$0")/.."
for name in one_shopper two_shoppers_return crowded; do
  walkout simulate "sample_videos/$name" --scenario "scenarios/$name.yaml"
done
# A store: 4 calibrated cameras over two aisles, 3 shoppers, 25 s (seed picked for its size and its events,
# before it was run). Its truth/boxes (3.8 MB, optional: training and `walkout inspect --truth` read them)
# are left out to keep sample_videos/ under 15 MB; the bench scores against truth/tracks and truth/events.
rm -rf sample_videos/store
walkout simulate sample_videos/store --layout store --cameras 4 --shoppers 3 --duration 25 --seed 21
rm -r sample_videos/store/truth/boxes
du -sh sample_videos
