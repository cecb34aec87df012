"""The documentation holds for code added later: every public name has a numpydoc docstring (Parameters for a
callable with parameters, Returns for a function that returns a value), every command-line option says what it
means, and the README's Python blocks run.

Public, as the API page states it: a module is public when no component of its dotted name starts with ``_``; a
function or class is public when a package exports it in ``__all__``, when a public module lists it in ``__all__``,
or (a public module without ``__all__``) when that module defines it under a name without a leading ``_``. Methods
of public classes count when their name has no leading ``_`` and the class body defines them. A class may give its
constructor's arguments under Attributes (a record's fields are both).
"""
from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "simulations")


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


def public_modules(package: str) -> list:
    pkg = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(pkg.__path__, package + ".") if not _private(m.name)]
    return [importlib.import_module(n) for n in names]


def public_objects() -> dict:
    """``{name: object}`` for every public function, class and public method, each object once under the name of
    its page in the API reference (where it is defined, or where it is exported if defined in a private module)."""
    out, seen = {}, set()
    for package in PACKAGES:
        for mod in public_modules(package):
            names = getattr(mod, "__all__", None)
            if names is None:
                names = [n for n, o in vars(mod).items() if not n.startswith("_")
                         and (inspect.isfunction(o) or inspect.isclass(o)) and o.__module__ == mod.__name__]
            for name in names:
                obj = getattr(mod, name)
                if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                    continue
                seen.add(id(obj))
                canonical = not _private(obj.__module__) and "<locals>" not in obj.__qualname__   # not a wrapper's
                qual = f"{obj.__module__}.{obj.__qualname__}" if canonical else f"{mod.__name__}.{name}"
                out[qual] = obj
                if inspect.isclass(obj):
                    for mname, member in vars(obj).items():
                        func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
                        if not mname.startswith("_") and inspect.isfunction(func) and id(func) not in seen:
                            seen.add(id(func))
                            out[f"{qual}.{mname}"] = func
    return out


def sections(doc: str) -> set:
    """The numpydoc section titles of ``doc`` (a title line underlined by dashes of its length)."""
    lines = doc.splitlines()
    return {lines[i].strip() for i in range(len(lines) - 1)
            if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip())
            and len(lines[i + 1].strip()) == len(lines[i].strip())}


def parameters(obj) -> list:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [p for p in sig.parameters.values() if p.name not in ("self", "cls")]


def returns_value(func) -> bool:
    """Whether the function's own body (not a nested function's) has ``return <value>`` (``return None`` aside)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    stack = list(tree.body[0].body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is not None \
                and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def docstring_problems(obj) -> list:
    doc = inspect.getdoc(obj) if not inspect.isclass(obj) else obj.__dict__.get("__doc__")
    if not doc or not doc.strip():
        return ["no docstring"]
    doc = inspect.cleandoc(doc)
    found, problems = sections(doc), []
    # a class may list its constructor's arguments as Attributes (a record's fields are both)
    if parameters(obj) and "Parameters" not in found and not (inspect.isclass(obj) and "Attributes" in found):
        problems.append("no Parameters section")
    if inspect.isfunction(obj) and returns_value(obj) and not ({"Returns", "Yields"} & found):
        problems.append("no Returns section")
    return problems


def test_the_walk_finds_the_fronts_and_their_methods():
    names = public_objects()
    for expected in ("theory.front.objective", "theory.batches.Family", "theory.batches.Family.all",
                     "theory.losses.infonce.InfoNCE", "simulations.engine.objective", "simulations.cli.main",
                     "theory.normalize_rows"):
        assert expected in names
    assert not any(_private(n.rsplit(".", 1)[-1]) for n in names)
    assert len(names) > 200


def test_every_public_name_has_a_numpydoc_docstring_with_parameters_and_returns():
    problems = {name: p for name, obj in public_objects().items() if (p := docstring_problems(obj))}
    assert not problems, f"{len(problems)} public names lack a numpydoc docstring:\n" + "\n".join(
        f"  {n}: {', '.join(p)}" for n, p in sorted(problems.items()))


def test_the_docstring_check_can_fail():
    def undocumented(x):
        return x

    def documented(x):
        """Identity.

        Parameters
        ----------
        x : object

        Returns
        -------
        object
        """
        return x

    def no_returns(x):
        """Identity.

        Parameters
        ----------
        x : object
        """
        return x

    assert docstring_problems(undocumented) == ["no docstring"]
    assert docstring_problems(documented) == []
    assert docstring_problems(no_returns) == ["no Returns section"]


def _cli_actions():
    from simulations.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sp in sub.choices.items():
        for action in sp._actions:
            if not isinstance(action, argparse._HelpAction):
                yield name, sp, action


def test_every_command_line_option_says_its_meaning_and_default():
    missing = []
    for name, sp, action in _cli_actions():
        text = sp._get_formatter()._expand_help(action) if action.help else ""
        says_default = "default" in text or action.required or not action.option_strings
        if len(text.split()) < 3 or not says_default:
            missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}: {text!r}")
    assert not missing, "options without a help line naming their default:\n" + "\n".join(missing)


def test_the_command_line_page_lists_every_subcommand_and_option():
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        from generated_pages import render
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    from simulations.cli import build_parser
    page = render(build_parser())
    for name, _, action in _cli_actions():
        assert f".. program:: minibatch-cl {name}" in page
        assert (action.option_strings[0] if action.option_strings else action.dest) in page


def readme_python_blocks() -> list:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert readme_python_blocks()
    for page in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / page).exists(), page


@pytest.mark.slow
def test_the_readme_python_blocks_run(tmp_path):
    """Every ``python`` block of the README, in order, in one fresh interpreter (a block may use an earlier one's
    names), from a scratch folder so that nothing is written into the checkout. (``py`` blocks are excerpts of files
    that run elsewhere: the gallery and its tests.)"""
    script = "\n".join(readme_python_blocks())
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "MPLBACKEND": "Agg"}
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("block", range(len(readme_python_blocks())))
def test_each_readme_block_is_complete_code(block):
    ast.parse(readme_python_blocks()[block])


@pytest.mark.parametrize("loss", ["infonce", "siglip", "dcl", "dhel", "kcl"])
def test_certify_reads_n_from_the_family_file_and_prints_the_same_facts_for_every_loss(loss, tmp_path, capsys):
    from simulations.cli import main
    family = tmp_path / "family.json"
    family.write_text('{"N": 5, "batches": [[0, 1, 2], [2, 3, 4], [0, 3], [1, 4], [0, 4, 1]], "weights": [1, 2, 1, 1, 0.5]}')
    assert main(["certify", "--family-file", str(family), "--loss", loss]) == 0
    out = capsys.readouterr().out
    for fact in ("value:", "rank:", "the optimum in every d >= rank", "L(ETF) =", "excess over the certified optimum",
                 "U = V = simplex ETF (d >= N-1):"):
        assert fact in out, (fact, out)


def test_certify_refuses_a_batch_option_beside_a_family_file(tmp_path, capsys):
    from simulations.cli import main
    family = tmp_path / "family.json"
    family.write_text('{"N": 4, "batches": [[0, 1, 2], [1, 2, 3], [0, 3]]}')
    assert main(["certify", "--family-file", str(family), "--B", "3"]) == 2
    assert "--B set with --family-file" in capsys.readouterr().err
    assert main(["certify", "--family-file", str(family), "--family", "all", "--seed", "1"]) == 2
