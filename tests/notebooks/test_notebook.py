"""notebooks/inspect_tracks.ipynb: committed clean, only calls the package, and runs headlessly.

Executing it runs the real pipeline (trained detector) on sample_videos/one_shopper, fusion, and
every view: about half a minute. Without models/walkout-det.pt it is skipped (say which model with
WALKOUT_NOTEBOOK_MODEL=path to run it anyway, e.g. on a machine that has not trained one).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "inspect_tracks.ipynb"
MODEL = ROOT / "models" / "walkout-det.pt"
RECORDING = ROOT / "sample_videos" / "one_shopper"
PACKAGES = {"walkout", "fusion", "vision", "matplotlib", "IPython", "pathlib"}
TIMEOUT_S = 600  # per cell; the pipeline cell takes ~15 s on two cores

nbformat = pytest.importorskip("nbformat")


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_committed_without_outputs(notebook):
    for cell in code_cells(notebook):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_only_calls_the_package(notebook):
    """No functions, classes, loops or branches: the logic lives in the package."""
    for cell in code_cells(notebook):
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Lambda | ast.For | ast.While | ast.If), (
                f"logic in the notebook: {ast.unparse(node)[:60]}"
            )
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert {n.split(".")[0] for n in names} <= PACKAGES, names


def test_has_a_parameters_cell(notebook):
    tagged = [c for c in code_cells(notebook) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert {"RECORDING", "OUT", "CONFIG"} <= {t.id for n in ast.walk(ast.parse(tagged[0].source))
                                             if isinstance(n, ast.Assign) for t in n.targets}


def test_shows_anonymised_pictures_only(notebook):
    """Frames come from walkout.inspect / walkout.annotate, which hide faces (PRIVACY.md); the
    notebook never turns that off nor reads video frames itself."""
    source = "\n".join(cell.source for cell in code_cells(notebook))
    assert "anonymize=False" not in source and "read_frame" not in source and "VideoCapture" not in source
    assert "frame_at(" in source and "annotate_recording(" in source


@pytest.mark.notebook
def test_runs_headlessly(notebook, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    model = Path(os.environ.get("WALKOUT_NOTEBOOK_MODEL", MODEL))
    if not model.is_file():
        pytest.skip(f"{model} not found: the notebook runs the trained detector (make it with "
                    "`walkout train --out models/`, or set WALKOUT_NOTEBOOK_MODEL to another model)")
    config = "None"
    if model != MODEL:
        (tmp_path / "walkout.toml").write_text(f'[detector]\nmodel_path = "{model}"\n')
        config = repr(str(tmp_path / "walkout.toml"))
    (params,) = [c for c in code_cells(notebook) if "parameters" in c.metadata.get("tags", [])]
    params.source = (f"from pathlib import Path\nRECORDING = Path({str(RECORDING)!r})\n"
                     f"OUT = Path({str(tmp_path / 'runs')!r})\nCONFIG = {config}\n")
    client = nbclient.NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    run_dir = tmp_path / "runs" / RECORDING.name
    for name in ("events.csv", "receipts.json", "events_contact_sheet.png", "annotated/cam0.mp4", "inspect.png"):
        assert (run_dir / name).is_file(), name
    images = [o for c in code_cells(notebook) for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # frame, trajectory, cart timeline, weight, contact sheet (+ overview)
