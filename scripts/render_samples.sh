#!/usr/bin/env bash
# Render the committed sample recordings from their scenario files (deterministic).
set -euo pipefail
cd "$(dirname "$0")/.."
for name in one_shopper two_shoppers_return crowded; do
  walkout simulate "sample_videos/$name" --scenario "scenarios/$name.yaml"
done
du -sh sample_videos
