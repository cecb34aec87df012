"""Sphinx configuration of the minibatch-cl documentation.

Build (offline, every warning an error)::

    pip install -e ".[docs]"
    sphinx-build -W -b html docs docs/_build/html

Generated at build time (not in the repository): ``docs/api/`` (autosummary stubs),
``docs/auto_examples/`` (the gallery, every ``examples/plot_*.py`` executed) and
``docs/command_line.rst`` (rendered from :func:`simulations.cli.build_parser`).
"""
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("PYTHONPATH", str(ROOT))     # examples that start subprocesses import this checkout

import theory  # noqa: E402

project = "minibatch-cl"
author = "the minibatch-cl authors"
copyright = "the minibatch-cl authors"
release = version = theory.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "generated_pages",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5",
                    "auto_examples/*.codeobj.json"]
templates_path = ["_templates"]

# MyST: markdown pages ($...$ maths, heading anchors for links such as guide/oracle.md#certificates)
myst_enable_extensions = ["dollarmath", "amsmath", "deflist", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing"]      # links to repository files outside docs/ stay plain links

# API reference: one page per public module (no component starting with "_") and per public function and class
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = True
autodoc_typehints = "none"                     # the numpydoc Parameters section says the types
autodoc_member_order = "bysource"
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# the gallery: every examples/plot_*.py is run during the build and its figures drawn
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
}

html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "mini-batch contrastive loss: theory, certificates, experiments",
                      "fixed_sidebar": False}
html_show_sourcelink = False
