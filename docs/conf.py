"""Sphinx configuration for oauthkit's documentation (``./run docs``).

The build is offline and strict: no intersphinx inventories, warnings are errors (``-W``),
diagrams are rendered by Debian's PlantUML at build time, and the command's reference, the
error tree and the preset table are generated from the package itself (``_ext/``).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

from oauthkit import __version__  # noqa: E402

project = "oauthkit"
author = "oauthkit developers"
copyright = "oauthkit developers, MIT licence"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_copybutton",
    "sphinxcontrib.plantuml",
    "oauthkit_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "diagrams", "screenshots/README.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
smartquotes = False  # code names and quotes stay as written

# autodoc: the public surface, signatures as written, members in source order.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True}
napoleon_google_docstring = False
napoleon_numpy_docstring = False

# PlantUML from Debian (`apt-get install plantuml`), SVG so the text stays text.
plantuml = "plantuml"
plantuml_output_format = "svg_img"

html_theme = "furo"
html_title = f"oauthkit {release}"
html_static_path = ["_static"]
copybutton_prompt_text = r"\$ "
copybutton_prompt_is_regexp = True
