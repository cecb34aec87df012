"""The claim registry: every claim runs at a tiny size with its verdict, names code and tests that
exist, runs alone from the command line; the package has no import cycle."""
import ast
import importlib
import json
from pathlib import Path

import pytest

from simulations.claims import CLAIMS, REPO_ROOT, run_claims
from simulations.cli import main as cli_main

#: The verdict each claim must give at its tiny size. A regression in a check, or a change in what
#: the code computes, flips one of these. Qualified claims list the sweep points where they fail.
EXPECTED_TINY = {
    "full_batch_etf": "confirmed",
    "all_batches_etf": "confirmed",
    "not_proportional": "confirmed",
    "partition_suboptimal": "qualified",          # fails at d = N/2 = 4 (cross-polytope), holds at d = 5
    "pair_balance_law": "confirmed",
    "dataloader_epochs": "confirmed",
    "low_dimension_counterexample": "confirmed",
    "large_n_equivalence": "confirmed",
    "shuffle_unbiased": "confirmed",
    "fig1a_rotation": "confirmed",
    "osgd_toy": "qualified",                      # OSGD first at lr 0.1, shuffle first at lr 1
    "osgd_sc_converge_faster": "qualified",
    "sc_finds_high_loss_batches": "confirmed",
    "real_data": "not reproducible here",
    "siglip_full_batch": "confirmed",
    "siglip_all_batches": "qualified",           # shares only where the full batch is ETF or both are antipodal
    "pair_sum_identities": "confirmed",
    "losses_full_batch_etf": "confirmed",
    "losses_all_batches_etf": "qualified",        # DCL / DHEL on all pairs: a face of minimizers beyond the ETF
    "losses_partition_suboptimal": "confirmed",
    "losses_pair_balanced": "confirmed",
    "kcl_low_dimension": "confirmed",
    "siglip_constellations": "confirmed",
}
EXPECTED_FAILS_TINY = {
    "partition_suboptimal": ["N=8,B=2,d=4 (evidence)"],
    "osgd_toy": ["lr=1 vs shuffle", "lr=1 vs replace"],
    "siglip_all_batches": ["N=6,B=3,tau=1,bias=0"],
    "losses_all_batches_etf": ["dcl(tau=0.5, symmetric=True) N=4,B=2", "dhel(tau=0.5, symmetric=False) N=4,B=2"],
}


def test_expected_verdicts_cover_the_registry():
    assert set(EXPECTED_TINY) == set(CLAIMS)


@pytest.fixture(scope="module")
def tiny_out(tmp_path_factory):
    return tmp_path_factory.mktemp("claims")


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_every_claim_gives_its_verdict_at_tiny_size(claim_id, tiny_out):
    (v,) = run_claims([claim_id], size="tiny", out=tiny_out)
    assert v.id == claim_id and v.verdict == EXPECTED_TINY[claim_id], (v.verdict, v.numbers.get("failed_points"),
                                                                      v.numbers.get("fails_for"))
    if claim_id in EXPECTED_FAILS_TINY:
        assert v.numbers["fails_for"] == EXPECTED_FAILS_TINY[claim_id]
    record = v.to_json()
    assert record["statement"] and record["source"] and record["code"] and record["test"]
    json.dumps(record, allow_nan=False)


def _test_names(path: Path) -> set:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_every_claim_names_code_and_tests_that_exist(claim_id):
    c = CLAIMS[claim_id]
    path, name = c.code.split("::")
    assert (REPO_ROOT / path).exists()
    module = importlib.import_module(path[:-3].replace("/", "."))
    assert getattr(module, name) is c.check
    for t in c.tests:
        file, test = t.split("::")
        assert test.split("[")[0] in _test_names(REPO_ROOT / file), t
    assert c.command("quick") == f"minibatch-cl claims --only {claim_id} --json"


def test_cli_claims_only_runs_one_claim_as_json(capsys):
    assert cli_main(["claims", "--only", "not_proportional", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (v,) = out["verdicts"]
    assert v["id"] == "not_proportional" and v["verdict"] == "confirmed" and v["code"].endswith("check_not_proportional")


def test_cli_certify_reports_fano_plus_one_triple_not_etf_optimal_at_tau_005(tmp_path, capsys):
    from theory.claims import fano_plus_one_triple
    f = tmp_path / "fam.json"
    f.write_text(json.dumps({"N": 7, "batches": fano_plus_one_triple().batches.tolist()}))
    assert cli_main(["certify", "--N", "7", "--family-file", str(f), "--tau", "0.05", "--json"]) == 0
    etf = json.loads(capsys.readouterr().out)["etf"]
    assert etf["etf_optimal"] is False and etf["decided_by"] == "tangent_gradient"
    assert cli_main(["certify", "--N", "7", "--family", "fano", "--tau", "0.05", "--json"]) == 0
    etf = json.loads(capsys.readouterr().out)["etf"]
    assert etf["etf_optimal"] is True and etf["decided_by"] == "dual_certificate" and etf["dual_unique"]


def test_cli_claims_refuses_unknown_ids_and_bad_workers(capsys):
    assert cli_main(["claims", "--only", "bogus"]) == 2
    assert "unknown claim ids ['bogus']" in capsys.readouterr().err
    assert cli_main(["claims", "--only", "not_proportional", "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


# ---------------------------------------------------------------------- import structure
PACKAGES = ("theory", "simulations", "figures")


def _imports(path: Path, module: str) -> set:
    """Modules of the three packages imported anywhere in the file (top level or inside functions)."""
    pkg = module.rsplit(".", 1)[0] if not path.name == "__init__.py" else module
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                out.add(target)
                out |= {f"{target}.{a.name}" for a in node.names}
            else:
                out.add(node.module)
                out |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in out if m.split(".")[0] in PACKAGES}


def _graph():
    modules = {}
    for pkg in PACKAGES:
        for f in (REPO_ROOT / pkg).glob("*.py"):
            name = pkg if f.name == "__init__.py" else f"{pkg}.{f.stem}"
            modules[name] = f
    return {m: {t for t in _imports(f, m) if t in modules and t != m} for m, f in modules.items()}


def _cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_package_has_no_import_cycle_between_modules_or_packages():
    g = _graph()
    # a submodule's import of its own package's __init__ is how Python loads it, not a dependency
    mod = {m: {t for t in ts if t != m.split(".")[0]} for m, ts in g.items()}
    assert _cycles(mod) == []
    pkg = {p: set() for p in PACKAGES}
    for m, ts in g.items():
        pkg[m.split(".")[0]] |= {t.split(".")[0] for t in ts if t.split(".")[0] != m.split(".")[0]}
    assert _cycles(pkg) == [], pkg
    assert "simulations" not in pkg["theory"] and "simulations" not in pkg["figures"]


def test_cycle_detector_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
