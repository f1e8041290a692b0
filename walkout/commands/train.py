"""`walkout train`: render mock-store frames and train the detector and the held-item classifier."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="train")
@click.option("--out", "out_dir", default="models", show_default=True, type=click.Path(path_type=Path))
@click.option("--images", default=1200, show_default=True, help="Detector training frames to render.")
@click.option("--val-images", default=200, show_default=True, help="Held-out validation frames.")
@click.option("--epochs", default=25, show_default=True, help="Detector epochs.")
@click.option("--classifier-epochs", default=40, show_default=True)
@click.option("--imgsz", default=416, show_default=True, help="Detector input size (pixels).")
@click.option("--seed", default=1000, show_default=True)
@click.option("--reach", is_flag=True, help="Also train the reach classifier (walkout-reach.pt, for [reaching]).")
@click.option("--only", type=click.Choice(["reach", "detector", "hands", "attribution", "confidence", "association",
                                           "reid"]),
              help="Train only this model (walkout-reach.pt; detector: fine-tune OUT's "
                   "walkout-det.pt on near-pick and store renders; hands: the hand stage, walkout-hands.pt and "
                   "walkout-held.pt, from near-event renders; attribution: fusion's who-took-it model, "
                   "attribution.json, from rendered and run training groups; confidence: what a receipt line's "
                   "probability means, confidence.json, from rendered, run and fused calibration groups the "
                   "attribution model never saw; association: the cross-camera "
                   "shopper model, association.json, from rendered and run store recordings; reid: the appearance "
                   "embedding, walkout-reid.pt, from rendered store recordings); the others are left alone.")
@click.option("--runs", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="--only attribution / confidence / association / reid: fit on these recordings and vision runs "
                   "(benchmarks/accuracy.py's layout) instead of rendering; repeatable.")
@click.option("--look", type=click.Choice(["colours", "embedding"]), default="colours", show_default=True,
              help="--only association: the tracks' looks the model is fitted on ([shoppers] look; embedding "
                   "needs OUT/walkout-reid.pt).")
@click.option("--work", "work_dir", type=click.Path(path_type=Path), help="Scratch folder (default OUT/_work).")
def command(out_dir, images, val_images, epochs, classifier_epochs, imgsz, seed, reach, only, runs,
            look, work_dir) -> None:
    """Train models/walkout-det.pt, walkout-hands.pt and walkout-held.pt from mock-store renders (CPU, 1-2 hours)."""
    from walkout.train import TrainConfig, train, train_one

    config = TrainConfig(images=images, val_images=val_images, epochs=epochs, classifier_epochs=classifier_epochs,
                         imgsz=imgsz, seed=seed)
    work = Path(work_dir) if work_dir else Path(out_dir) / "_work"
    if only in ("attribution", "confidence", "association"):  # the JSON models, fitted on vision runs of renders
        _fit_json_model(only, Path(out_dir), work, list(runs), look)
        return
    if only == "reid":
        from walkout.reid_training import train_from_renders

        try:
            card = train_from_renders(Path(out_dir), work, runs=list(runs) or None)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"reid model: {card['people']} people, {card['crops']} crops; held-out 10-crop stretches, same "
                   f"person or not, ROC AUC within a camera {card.get('same_camera_auc_embedding', float('nan')):.3f} "
                   f"(colours {card.get('same_camera_auc_colours', float('nan')):.3f}), across cameras "
                   f"{card.get('across_cameras_auc_embedding', float('nan')):.3f} "
                   f"(colours {card.get('across_cameras_auc_colours', float('nan')):.3f})")
        return
    if only:
        try:
            figures = train_one(only, out_dir, config, work_dir)
        except FileNotFoundError as exc:  # e.g. --only detector with no walkout-det.pt in OUT
            raise click.ClickException(str(exc)) from None
        score = {"reach": lambda: f"top-1 {figures['reach_top1']:.3f}",
                 "detector": lambda: f"shopper mAP50 {figures['finetune_map50_after'].get('shopper', 0):.3f}",
                 "hands": lambda: f"hand mAP50 {figures['hand_map50']:.3f}, held-item top-1 {figures['held_top1']:.3f}",
                 }[only]()
        click.echo(f"{only} model: held-out {score}; figures: {Path(out_dir) / f'training-{only}.json'}")
        return
    figures = train(out_dir, config, work_dir, reach=reach)
    click.echo(f"detector mAP50 {figures['detector_map50_all']:.3f} ({figures['detector_map50']}), "
               f"held-item top-1 {figures['held_top1']:.3f}; model card: {Path(out_dir) / 'README.md'}")


def _fit_json_model(only: str, out_dir: Path, work: Path, runs: list[Path], look: str = "colours") -> None:
    try:
        if only == "attribution":
            from walkout.attribution_training import train_from_renders

            model = train_from_renders(out_dir, work, runs=runs or None)
        elif only == "confidence":
            from walkout.confidence_training import train_from_renders

            model = train_from_renders(out_dir, work, runs=runs or None)
        else:
            from walkout.association_training import AssociationTrainingConfig, train_from_renders

            model_path = str(out_dir / "walkout-reid.pt") if look == "embedding" else ""
            model = train_from_renders(out_dir, work, runs=runs or None,
                                       config=AssociationTrainingConfig(look=look, look_model=model_path))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    size = {"attribution": lambda: f"{model.card['take_count']} takes",
            "confidence": lambda: f"{model.card['lines']} lines",
            "association": lambda: f"{sum(v['pairs'] for v in model.card['pairs'].values())} pairs"}[only]()
    click.echo(f"{only} model: {size}; card: {out_dir / f'{only}.md'}")
