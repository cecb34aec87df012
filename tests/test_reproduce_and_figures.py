"""reproduce end to end on a tiny configuration; each figure from a small results folder; Fig. 1(a)."""

import pytest

from simulations.io import read_csv, read_json
from simulations.reproduce import FIG1A_PAPER, reproduce, run_fig1a
import figures


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("repro")
    res = reproduce(out, mode="tiny", progress=False, report=out / "report" / "paper_reproduction.md")
    return out, res


def test_reproduce_tiny_writes_verdicts_figures_and_report(tiny):
    out, res = tiny
    verdicts = read_json(out / "verdicts.json")
    ids = {v["id"] for v in verdicts}
    assert {"fig1a_rotation", "osgd_sc_converge_faster", "osgd_toy", "sc_finds_high_loss_batches", "real_data"} <= ids
    for v in verdicts:
        assert {"id", "statement", "verdict", "numbers", "command"} <= set(v)
    for name in figures.FIGURES:
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000, name
    report = (out / "report" / "paper_reproduction.md").read_text()
    assert "fig1a_rotation" in report and (out / "report" / "figures" / "output" / "convergence.png").exists()


def test_each_figure_redraws_from_the_results_folder(tiny):
    out, _ = tiny
    for name, (fn, need) in figures.FIGURES.items():
        (out / "figures" / f"{name}.png").unlink()
        assert fn(out).exists()


def test_fig1a_curves_span_the_papers_values(tmp_path):
    v = run_fig1a(tmp_path)
    for k, ref in FIG1A_PAPER.items():
        assert abs(v.numbers["measured"][k] - ref) < 1e-3, k
    rows = read_csv(tmp_path / "fig1a.csv")
    # both curves are minimal at the unrotated position
    best = min(rows, key=lambda r: r["full_batch"])
    assert abs(best["angle"]) < 1e-9


def test_draw_all_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        figures.draw_all(tmp_path / "nope")
