"""Sphinx extension: the pages generated from the code at build time.

* ``docs/command_line.rst`` from :func:`simulations.cli.build_parser`: every subcommand and option on it is
  the one the program accepts, with the help line the program prints (``%(default)s`` expanded);
* ``docs/api.rst``: the rule for what is public, the fronts (each package's ``__all__``) and the
  recursive module reference (:func:`public_modules`).

Both are written before autosummary generates its stubs, and only when their text changes.
"""
from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

_SPECIAL = re.compile(r"([\\`*_|\[\]<>])")

INTRO = """\
Command line
============

``minibatch-cl`` is a thin layer over the Python API: each subcommand calls one function of
:mod:`theory` or :mod:`simulations` and prints its result (``--json``: one JSON object on stdout).
Bad arguments exit with status 2 and a message naming the parameter; a diverged run exits with
status 1. This page is generated from the parser itself (``simulations.cli.build_parser``), so it
lists exactly what the program accepts; ``minibatch-cl COMMAND --help`` prints the same text.
Examples of use: :doc:`guide/cli`.

.. code-block:: text

{usage}

"""


def _escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _option_names(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    if action.choices is not None and action.metavar is None:
        metavar = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        metavar = action.metavar or action.dest.upper()
    return ", ".join(f"{o} {metavar}" for o in action.option_strings)


def render(parser: argparse.ArgumentParser) -> str:
    """The reStructuredText page of ``parser``: its usage, then each subcommand with each of its options."""
    lines = [INTRO.format(usage="\n".join("   " + ln for ln in parser.format_usage().strip().splitlines()))]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, sp in sub.choices.items():
        title = f"minibatch-cl {name}"
        lines += [title, "-" * len(title), "", _escape(helps.get(name) or "") + ".", "", ".. code-block:: text", ""]
        usage = sp.format_usage().strip()
        lines += ["   " + ln for ln in usage.splitlines()] + ["", f".. program:: minibatch-cl {name}", ""]
        formatter = sp._get_formatter()
        for action in sp._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            help_text = formatter._expand_help(action) if action.help else ""
            required = " Required." if action.required and action.option_strings else ""
            lines += [f".. option:: {_option_names(action)}", "", "   " + _escape(help_text) + required, ""]
        group_notes = [" | ".join(a.option_strings[0] for a in g._group_actions) for g in sp._mutually_exclusive_groups]
        for note in group_notes:
            lines += [f"Mutually exclusive: {_escape(note)}.", ""]
    return "\n".join(lines).rstrip() + "\n"


API_INTRO = """\
API reference
=============

**What is public.** A module is public when no component of its dotted name starts with ``_``. A
function or class is public when it is exported in a package's ``__all__``, or listed in a public
module's ``__all__``, or (for a public module without ``__all__``) defined in that module under a
name that does not start with ``_``; so are the methods a public class defines under a name without a
leading ``_``. Every public name has a numpydoc docstring: Parameters for a callable that takes
parameters (a record class may list its fields under Attributes), Returns (or Yields) for a function
that returns a value, and Raises where it raises on bad input; ``tests/test_docs.py`` walks the same
names and fails for any docstring missing, or missing its Parameters or Returns section. Names
starting with ``_`` may change without notice.

The fronts
----------

The names most code needs, as exported by each package (each links to its page).
"""


def _is_private(modname: str) -> bool:
    return any(part.startswith("_") for part in modname.split("."))


def public_modules(package: str) -> list:
    """The public modules of ``package`` (itself first), by the rule of the API page."""
    import importlib
    import pkgutil
    pkg = importlib.import_module(package)
    out = [package]
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if not _is_private(info.name):
            out.append(info.name)
    return out


FRONTS = ("theory", "theory.losses", "simulations", "simulations.claims", "simulations.runtime",
          "simulations.training")


def render_api() -> str:
    """The API page: the rule, each front's table, then the recursive module reference."""
    import importlib
    import inspect
    lines = [API_INTRO]
    for package in FRONTS:
        mod = importlib.import_module(package)
        canonical, local = [], []
        for name in mod.__all__:
            obj = getattr(mod, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if _is_private(obj.__module__):          # defined in a private module: documented under this name
                local.append(f"{package}.{name}")
            else:
                canonical.append(f"{obj.__module__}.{obj.__qualname__}")
        title = f"``{package}``"
        lines += [title, "~" * len(title), ""]
        if canonical:
            lines += [".. autosummary::", "   :nosignatures:", ""] + [f"   ~{c}" for c in canonical] + [""]
        if local:
            lines += [".. autosummary::", "   :toctree: api", "   :nosignatures:", ""] + [f"   ~{c}" for c in local] + [""]
    lines += ["Modules", "-------", "", "Every public module, with its functions and classes.", "",
              ".. autosummary::", "   :toctree: api", "   :recursive:", "", "   theory", "   simulations", ""]
    return "\n".join(lines)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:     # rewrite only on change: no needless rebuilds
        path.write_text(text)


def _write(app, config=None):
    from simulations.cli import build_parser
    _write_if_changed(Path(app.srcdir) / "command_line.rst", render(build_parser()))
    _write_if_changed(Path(app.srcdir) / "api.rst", render_api())


class _EmptyTheoryGlob(logging.Filter):
    """Drop the one warning that the index's ``theory/*`` glob matches nothing (a checkout without Theory pages)."""

    def filter(self, record):
        return "didn't match any documents" not in str(record.msg) or record.args != ("theory/*",)


def setup(app):
    if not any((Path(app.srcdir) / "theory").glob("*.[mr][ds]*")):
        logging.getLogger("sphinx.sphinx.directives.other").addFilter(_EmptyTheoryGlob())
    app.connect("config-inited", _write)       # before the source files are found and autosummary reads api.rst
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
