"""reproduce end to end at the tiny size; each figure from the results folder; the report's links."""
import re

import pytest

from simulations.claims import CLAIMS
from simulations.cli import main as cli_main
from simulations.io import read_json
from simulations.claims.reproduce import reproduce
import figures

pytestmark = pytest.mark.slow          # CI runs it; -m "not slow" skips it locally


@pytest.fixture(scope="module")
def tiny(tiny_reproduction):
    return tiny_reproduction                 # the session's one tiny reproduce run (tests/conftest.py)


def test_reproduce_tiny_writes_every_claim_figures_and_report(tiny):
    out, res = tiny
    verdicts = read_json(out / "verdicts.json")
    assert [v["id"] for v in verdicts] == list(CLAIMS)
    for v in verdicts:
        assert {"id", "statement", "source", "verdict", "numbers", "command", "code", "test"} <= set(v)
    for name in figures.FIGURES:
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000, name
    report = (out / "report" / "paper_reproduction.md").read_text()
    assert (out / "report" / "figures" / "output" / "convergence.png").exists()
    for cid in CLAIMS:
        assert f"## {cid}" in report


def test_report_links_every_claims_code_and_tests(tiny):
    out, _ = tiny
    report = (out / "report" / "paper_reproduction.md").read_text()
    for cid, c in CLAIMS.items():
        section = report.split(f"## {cid}\n")[1].split("\n## ")[0]
        assert f"`{c.code}`" in section
        for t in c.tests:
            assert f"`{t}`" in section
    assert re.search(r"\]\(\.\./\.\./\.\./|\]\([^)]*simulations/claims/[a-z_]+\.py\)", report)


def test_each_figure_redraws_from_the_results_folder(tiny):
    out, _ = tiny
    for name, (fn, need) in figures.FIGURES.items():
        (out / "figures" / f"{name}.png").unlink()
        assert fn(out).exists()


def test_draw_all_refuses_a_missing_or_empty_folder(tmp_path, capsys):
    with pytest.raises(ValueError, match="does not exist"):
        figures.draw_all(tmp_path / "nope")
    with pytest.raises(ValueError, match="holds no results"):
        figures.draw_all(tmp_path)
    assert cli_main(["figures", "--out", str(tmp_path)]) == 2
    assert "holds no results" in capsys.readouterr().err
