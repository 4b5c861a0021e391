"""The book's browser scripts: each ``static/<name>.js`` is one factory function that returns
its API; this module defines it once per page as a global and mounts a panel with it, so the
panels work without a kernel on the static pages.

Example::

    >>> from wconv.views import scripts
    >>> html = scripts.mount_html("density_explorer", "wconvDensityExplorer", {"id": "x"})
    >>> "window.wconvDensityExplorer.mount(config)" in html
    True
"""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["STATIC", "path", "node_loader", "define_html", "mount_html"]

#: The folder of the scripts (shipped with the package).
STATIC = Path(__file__).resolve().parent / "static"


def path(name: str) -> Path:
    """The file of script ``name`` (``'density_explorer'``, ``'denoiser_panel'``)."""
    file = STATIC / f"{name}.js"
    if not file.is_file():
        known = sorted(p.stem for p in STATIC.glob("*.js"))
        raise ValueError(f"no script {name!r}; known: {', '.join(known)}")
    return file


def node_loader(name: str) -> str:
    """A JavaScript expression that evaluates to script ``name``'s API under Node.js (for the
    tests that check the browser arithmetic against Python)."""
    return (f"(0, eval)('(' + require('fs').readFileSync({json.dumps(str(path(name)))}, "
            f"'utf8') + ')')()")


def define_html(name: str, api: str) -> str:
    """A ``<script>`` that defines ``window[api]`` from script ``name`` (the first copy on a page
    is kept), for a script other panels use (``direct_l``)."""
    factory = path(name).read_text(encoding="utf-8")
    return (f'<script type="text/javascript">\nwindow.{api} = window.{api} || '
            f'({factory.rstrip()})();\n</script>')


def mount_html(name: str, api: str, config: dict) -> str:
    """A ``<script>`` that defines ``window[api]`` from script ``name`` (the first copy on a
    page is kept: several panels share it) and mounts ``config`` once the page is ready."""
    factory = path(name).read_text(encoding="utf-8")
    return f"""<script type="text/javascript">
window.{api} = window.{api} || ({factory.rstrip()})();
(function () {{
  var config = {json.dumps(config)};
  function start() {{ window.{api}.mount(config); }}
  if (document.readyState === 'loading') {{ document.addEventListener('DOMContentLoaded', start); }}
  else {{ start(); }}
}})();
</script>"""
