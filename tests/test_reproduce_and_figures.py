"""reproduce end to end at the tiny size; each figure from the results folder; the report: its links, its
short sections and the full sweeps written beside it."""
import csv
import itertools
import re

import pytest

from simulations.claims import CLAIMS, REPO_ROOT
from simulations.claims._tables import sweep_files, sweep_records
from simulations.claims.report import write_report
from simulations.cli import main as cli_main
from simulations.io import read_json, write_json
import figures

#: A claim's report section is short: its lines, at most (the full sweep is in the files it links).
MAX_SECTION_LINES = 60

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


def _sections(report: str) -> dict:
    """The report's claim sections, by id (each up to the next claim's heading)."""
    return {p.split("\n", 1)[0][3:].strip(): p for p in re.split(r"\n(?=## )", report)[1:]}


def _expand(merged: str) -> set:
    """The point labels a merged listing stands for (``{a, b}``: each of a, b)."""
    points = set()
    for item in merged.split("; "):
        parts = re.split(r"\{([^}]*)\}", item)
        choices = [[p] if i % 2 == 0 else p.split(", ") for i, p in enumerate(parts)]
        points |= {"".join(c) for c in itertools.product(*choices)}
    return points


def _read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_report_sections_are_short_and_link_their_full_sweep(tiny):
    out, _ = tiny
    folder = out / "report"
    report = (folder / "paper_reproduction.md").read_text()
    verdicts = {v["id"]: v for v in read_json(out / "verdicts.json")}
    sections = _sections(report)
    assert list(sections) == list(CLAIMS)
    assert report.index("| claim | verdict | source |") < report.index("\n## ")      # the summary table on top
    for cid, text in sections.items():
        assert text.count("\n") <= MAX_SECTION_LINES, (cid, text.count("\n"))
        assert "```json" not in text and "<details>" not in text, cid
        js, cs = sweep_files(cid)
        assert f"]({js})" in text, cid
        assert read_json(folder / js) == verdicts[cid]                   # the whole record, every number
        key, rows = sweep_records(verdicts[cid]["numbers"])
        if rows:
            assert f"]({cs})" in text, cid
            table = _read_csv(folder / cs)
            assert len(table) == len(rows) and set(table[0]) >= set(rows[0]), cid
        else:
            assert not (folder / cs).exists(), cid


def test_every_failing_point_of_a_qualified_claim_is_listed(tiny):
    out, _ = tiny
    folder = out / "report"
    sections = _sections((folder / "paper_reproduction.md").read_text())
    qualified = [v for v in read_json(out / "verdicts.json") if v["verdict"] == "qualified"]
    assert qualified                                                      # osgd_toy and others at the tiny size
    for v in qualified:
        fails = v["numbers"].get("fails_for") or v["numbers"].get("failed_points")
        assert fails, v["id"]
        text = sections[v["id"]]
        line = re.search(r"\*Fails for \((\d+)[^)]*\):\* (.*)", text)
        assert line and int(line.group(1)) == len(fails), v["id"]
        listed = line.group(2)
        if "more points" in listed:                                       # too many to show: all in the JSON
            record = read_json(folder / sweep_files(v["id"])[0])["numbers"]
            assert set(fails) <= set(record.get("fails_for") or record.get("failed_points")), v["id"]
            assert sweep_files(v["id"])[0] in listed, v["id"]
        else:
            assert _expand(listed) == set(fails), v["id"]


def test_a_long_list_of_failing_points_is_counted_and_pointed_to(tiny, tmp_path):
    out, _ = tiny
    verdicts = read_json(out / "verdicts.json")
    v = next(v for v in verdicts if v["verdict"] == "qualified")
    fails = [f"point {i}, {'abcdefgh'[i % 8]}" for i in range(500)]      # nothing to merge
    v["numbers"]["fails_for"] = fails
    (tmp_path / "res").mkdir()
    write_json(tmp_path / "res" / "verdicts.json", verdicts)
    write_report(tmp_path / "res", tmp_path / "rep" / "paper_reproduction.md", "tiny", "minibatch-cl reproduce --tiny")
    text = _sections((tmp_path / "rep" / "paper_reproduction.md").read_text())[v["id"]]
    assert text.count("\n") <= MAX_SECTION_LINES
    js = sweep_files(v["id"])[0]
    assert "*Fails for (500" in text and f"more points, every one in [{js}]({js})" in text
    assert read_json(tmp_path / "rep" / js)["numbers"]["fails_for"] == fails


def test_every_link_of_the_report_resolves_and_it_tells_no_history(tiny):
    out, _ = tiny
    folder = out / "report"
    report = (folder / "paper_reproduction.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", report)
    assert any(t.startswith("figures/sweeps/") for t in targets)
    for t in targets:
        if t.startswith(("http://", "https://", "#")):
            continue
        assert not t.startswith("/"), t                                  # relative to the report's folder
        assert (folder / t.split("#")[0]).exists(), t
    text = re.sub(r"\]\([^)]*\)", "]", report)                           # the words, without the link targets
    assert not re.search(r"\b(issues?|sessions?)\b", text, re.IGNORECASE)
    assert str(out) not in text and str(REPO_ROOT) not in text


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
