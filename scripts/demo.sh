#!/usr/bin/env bash
# Set up (a .venv beside this project) and run the main job on the shipped sample recordings:
# vision -> cart timelines, fusion -> verified receipts, bench -> accuracy and speed report.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# Every package at the version CI tested (requirements/lock.txt); pyproject.toml keeps the ranges.
.venv/bin/python -m pip install --quiet -c requirements/lock.txt -e ".[dev,onnx]"
.venv/bin/walkout validate sample_videos/*
.venv/bin/walkout run sample_videos --out runs/demo --fuse
.venv/bin/walkout bench sample_videos --predictions runs/demo --out runs/demo/report
