"""Every gallery example (examples/plot_*.py) runs to completion as a script, draws its figure with the Agg
backend, prints the numbers it shows, and has the page format sphinx-gallery needs (a module docstring whose
first line is a title underlined with '=')."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
#: Examples that start a cluster or evaluate the N = 1024 formula: minutes on a loaded two-core machine.
SLOW = {"plot_dask_sweep.py", "plot_exact_all_batches_n1024.py"}
TIMEOUT_S = 120


def test_the_gallery_has_at_least_eight_examples():
    assert len(EXAMPLES) >= 8, [p.name for p in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_a_gallery_page(path):
    doc = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    assert doc, f"{path.name}: no module docstring"
    lines = doc.strip("\n").splitlines()
    assert len(lines) >= 3 and lines[1] == "=" * len(lines[1]) and len(lines[1]) >= len(lines[0].rstrip()), (
        f"{path.name}: the docstring must open with a title underlined with '=' (as long as the title)")
    assert "import theory" in path.read_text() or "import simulations" in path.read_text() or \
        "from simulations" in path.read_text()


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW else p
                                  for p in EXAMPLES], ids=lambda p: p.name)
def test_every_example_runs_and_prints_its_numbers(path, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{path.name} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    assert any(ch.isdigit() for ch in proc.stdout), f"{path.name} printed no numbers"
