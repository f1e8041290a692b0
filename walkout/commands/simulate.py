"""`walkout simulate`: render a labelled mock store recording from a seed or a scenario file."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click


@click.command(name="simulate")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--scenario", "scenario_path", type=click.Path(path_type=Path), help="JSON/YAML scenario (docs/SCENARIO.md).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random scene and script seed.")
@click.option("--shoppers", type=click.IntRange(0, 12), default=2, show_default=True)
@click.option("--duration", "duration_s", type=click.FloatRange(1, 3600), default=20.0, show_default=True,
              help="Seconds.")
@click.option("--layout", type=click.Choice(["aisle", "store"]), default="aisle", show_default=True,
              help="aisle: one open aisle (A/B); store: several aisles (A/B, C/D, ...) inside walls, with cross "
                   "corridors, an entrance and an exit.")
@click.option("--aisles", type=click.IntRange(2, 4), default=2, show_default=True,
              help="Aisles of the store layout.")
@click.option("--cameras", type=click.IntRange(1, 8), default=1, show_default=True,
              help="Ceiling cameras: 1-4 for the aisle layout, 1-8 for the store layout.")
@click.option("--fps", type=click.FloatRange(1, 60), default=10.0, show_default=True)
@click.option("--width", type=click.IntRange(64, 3840), default=640, show_default=True)
@click.option("--height", type=click.IntRange(48, 2160), default=360, show_default=True)
@click.option("--same-shelf", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Chance a shopper starts at the shelf of the previous one.")
@click.option("--crossing", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Chance shoppers enter from opposite ends (crossing paths).")
@click.option("--returns", type=click.FloatRange(0, 1), default=0.25, show_default=True,
              help="Chance an action returns a held item.")
@click.option("--wrong-return", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Chance a return goes to a random (wrong) plate.")
@click.option("--double-pick", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Chance a pick takes two items.")
@click.option("--lighting-change", type=click.FloatRange(0, 0.8), default=0.0, show_default=True)
@click.option("--pixel-noise", type=click.FloatRange(0, 50), default=0.0, show_default=True,
              help="Sensor noise std (grey levels).")
@click.option("--motion-blur", "motion_blur_px", type=click.IntRange(0, 25), default=0, show_default=True)
@click.option("--jpeg-quality", type=click.IntRange(1, 100), default=100, show_default=True,
              help="JPEG-degrade frames before encoding (100 = off).")
@click.option("--weight-noise", "weight_noise_g", type=click.FloatRange(0, 100), default=1.5, show_default=True)
@click.option("--weight-dropout", type=click.FloatRange(0, 0.5), default=0.0, show_default=True)
@click.option("--catalog-error", "catalog_weight_error", type=click.FloatRange(0, 0.2), default=0.0,
              show_default=True, help="Max relative error of catalog weights vs true means.")
def command(out_dir: Path, scenario_path: Path | None, seed: int, shoppers: int, duration_s: float, layout: str,
            aisles: int, cameras: int, fps: float, width: int, height: int, same_shelf: float, crossing: float,
            returns: float, wrong_return: float, double_pick: float, lighting_change: float, pixel_noise: float,
            motion_blur_px: int, jpeg_quality: int, weight_noise_g: float, weight_dropout: float,
            catalog_weight_error: float) -> None:
    """Render a labelled store recording into OUT_DIR (videos, weights, catalog, planogram, truth)."""
    from mockstore.random_scenario import Behaviour, random_scenario
    from mockstore.scenario import MAX_CAMERAS, Knobs, ScenarioError, load_scenario
    from mockstore.writer import write_recording

    if scenario_path is None and cameras > MAX_CAMERAS[layout]:
        click.echo(f"error: --cameras {cameras}: the {layout} layout has at most {MAX_CAMERAS[layout]} cameras",
                   err=True)
        sys.exit(2)
    try:
        if scenario_path is not None:
            scenario = load_scenario(scenario_path)
        else:
            knobs = Knobs(lighting_change=lighting_change, pixel_noise=pixel_noise, motion_blur_px=motion_blur_px,
                          jpeg_quality=jpeg_quality, scene_variation=1.0, weight_noise_g=weight_noise_g,
                          weight_dropout=weight_dropout, catalog_weight_error=catalog_weight_error)
            behaviour = Behaviour(same_shelf=same_shelf, crossing=crossing, returns=returns,
                                  wrong_return=wrong_return, double_pick=double_pick)
            scenario = random_scenario(seed, n_shoppers=shoppers, duration_s=duration_s, n_cameras=cameras, fps=fps,
                                       width_px=width, height_px=height, knobs=knobs, behaviour=behaviour,
                                       name=out_dir.name, layout=layout, aisles=aisles)
            scenario = replace(scenario, name=out_dir.name)
        summary = write_recording(scenario, out_dir)
    except (ScenarioError, FileExistsError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{summary.path}: {summary.cameras} camera(s) x {summary.frames_per_camera} frames, "
               f"{summary.shoppers} shopper(s), {summary.events} event(s), rendered at {summary.render_fps:.0f} frames/s")
