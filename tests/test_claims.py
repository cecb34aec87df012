"""The claims: every claim module runs at a tiny size with the verdict it declares, names code and tests that
exist, runs alone from the command line; the packages have no import cycle."""
import ast
import importlib
import json
from pathlib import Path

import pytest

import numpy as np

from simulations.claims import CLAIMS, REPO_ROOT, Verdict, verdict_over_sweep
from simulations.claims._families import families_up_to_relabelling
from simulations.claims._verdict import VERDICTS
from simulations.cli import main as cli_main


def test_every_claim_declares_its_tiny_verdict():
    """Each claim module pins the verdict its claim gives at the tiny size (``Claim.expected_tiny``) and, where
    it is qualified, may pin the sweep points where it fails (``Claim.expected_fails_tiny``). A regression in a
    check, or a change in what the code computes, flips one of these."""
    for c in CLAIMS.values():
        assert c.expected_tiny in VERDICTS, c.id
        assert not c.expected_fails_tiny or c.expected_tiny in ("qualified", "refuted"), c.id


def test_claims_are_the_modules_of_the_package_in_their_declared_order():
    import pkgutil
    import simulations.claims as package
    modules = {m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}
    assert set(CLAIMS) == {m for m in modules if hasattr(importlib.import_module(f"simulations.claims.{m}"), "CLAIM")}
    orders = [c.order for c in CLAIMS.values()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    for cid, c in CLAIMS.items():
        assert importlib.import_module(f"simulations.claims.{cid}").CLAIM is c


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_every_claim_gives_its_verdict_at_tiny_size(claim_id, tiny_reproduction):
    """Read from the session's one tiny reproduce run (tests/conftest.py): every claim runs once per session."""
    _, res = tiny_reproduction
    (record,) = [r for r in res["verdicts"] if r["id"] == claim_id]
    v = Verdict(**record)
    c = CLAIMS[claim_id]
    assert v.id == claim_id and v.verdict == c.expected_tiny, (v.verdict, v.numbers.get("failed_points"),
                                                               v.numbers.get("fails_for"))
    if c.expected_fails_tiny:
        assert v.numbers["fails_for"] == list(c.expected_fails_tiny)
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
    from simulations.claims._families import fano_plus_one_triple
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


def _module_name(path: Path) -> str:
    """Dotted name of a source file of the packages (a package's ``__init__.py`` is the package)."""
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph():
    modules = {}
    for pkg in PACKAGES:
        for f in (REPO_ROOT / pkg).rglob("*.py"):
            modules[_module_name(f)] = f
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


def _parents(module: str) -> set:
    parts = module.split(".")
    return {".".join(parts[:k]) for k in range(1, len(parts))}


#: Function-level imports from the loss modules back up into theory's modules (InfoNCE's pair-balance law,
#: SigLIP's closed forms): each closes a cycle through theory.front -> theory.losses. Named here so that no other
#: back edge goes unnoticed.
LAZY_BACK_EDGES: set = set()


def test_package_has_no_import_cycle_between_modules_or_packages():
    g = _graph()
    assert "simulations.claims.full_batch_etf" in g and "simulations.claims" in g    # subpackages are in the graph
    # a submodule's import of a package above it (its __init__) is how Python loads it, not a dependency
    mod = {m: {t for t in ts if t not in _parents(m) and (m, t) not in LAZY_BACK_EDGES} for m, ts in g.items()}
    assert _cycles(mod) == []
    assert all(t in g[m] for m, t in LAZY_BACK_EDGES)                              # the list holds no stale entry
    # nor does a subpackage's __init__ import its own submodules (the claims are found at run time)
    assert not {t for t in g["simulations.claims"] if t.startswith("simulations.claims.")
                and not t.split(".")[-1].startswith("_")}
    pkg = {p: set() for p in PACKAGES}
    for m, ts in g.items():
        pkg[m.split(".")[0]] |= {t.split(".")[0] for t in ts if t.split(".")[0] != m.split(".")[0]}
    assert _cycles(pkg) == [], pkg
    assert "simulations" not in pkg["theory"] and "simulations" not in pkg["figures"]


def test_cycle_detector_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_relabelling_classes_are_counted_correctly():
    # graphs on 4 vertices up to isomorphism (non-empty): 10; on 5 vertices: 33 (OEIS A000088 minus the empty graph)
    assert len(list(families_up_to_relabelling(4, 2))) == 10
    assert len(list(families_up_to_relabelling(5, 2))) == 33


def test_verdict_follows_the_sweep():
    assert verdict_over_sweep({"a": True, "b": True})[0] == "confirmed"
    assert verdict_over_sweep({"a": True, "b": False}) == ("qualified", ["a"], ["b"])
    assert verdict_over_sweep({"a": False})[0] == "refuted"
    assert verdict_over_sweep({"a": True, "b": None})[0] == "inconclusive"
    assert verdict_over_sweep({"a": False, "b": None})[0] == "refuted"
    with pytest.raises(ValueError, match="verdict"):
        Verdict("x", "maybe")


def test_verdict_counts_numpy_bools_and_refuses_other_types():
    """A numpy bool (e.g. from ``x <= tol`` on a numpy float) is neither ``True`` nor ``False`` under ``is``;
    it once made sweep points vanish from both lists and a claim read 'confirmed' on fewer points."""
    assert verdict_over_sweep({"a": np.bool_(True), "b": np.float64(1.0) <= 0.5}) == ("qualified", ["a"], ["b"])
    with pytest.raises(TypeError, match="True, False or None"):
        verdict_over_sweep({"a": 1.0})


#: Layers, lowest first: a module imports only from its own layer or the layers below.
LAYERS = ("theory", "simulations.io", "simulations._code", "simulations.engine", "simulations.selection",
          "simulations.training", "simulations.runtime", "figures", "simulations.claims", "simulations.cli")


def _layer(module: str):
    hits = [i for i, name in enumerate(LAYERS) if module == name or module.startswith(name + ".")]
    return max(hits, key=lambda i: len(LAYERS[i])) if hits else None


def test_layers_point_down_only():
    """theory < engine < selection < training < runtime < figures < claims < cli (the package's __init__ is the front
    over all of them)."""
    g = _graph()
    assert {"simulations.engine", "simulations.selection", "simulations.training", "simulations.runtime"} <= set(g)
    up = [(m, t) for m, ts in g.items() for t in ts
          if _layer(m) is not None and _layer(t) is not None and _layer(t) > _layer(m)]
    assert up == []
