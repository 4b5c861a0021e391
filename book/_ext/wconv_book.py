"""Local Sphinx extension of the wconv book (loaded through ``_config.yml``).

It does three small things:

* sets the footer's copyright year from the build date (``SOURCE_DATE_EPOCH`` when set, for
  reproducible builds), so no year is typed by hand;
* refuses to build without the offline browser assets in ``book/vendor/`` (MathJax, RequireJS,
  the ipywidgets embed manager), with a message saying how to get them, instead of silently
  producing pages that would need a CDN;
* makes the ipywidgets embed manager work offline and with MathJax 3: RequireJS is told that
  the manager's AMD modules live in ``_static/jupyter-widgets/`` (their CSS loads Font Awesome
  relative to the module URL, which otherwise points at a folder that does not exist), and
  widget labels are typeset through a two-line MathJax 2 shim
  (``static/wconv-mathjax2-compat.js``);
* drops duplicate ``<script>`` entries (sphinx-thebe's inline configuration is otherwise
  emitted twice, a JavaScript error on every page);
* writes ``<build dir>/exec_report.json``: for every executed notebook, whether it ran without
  error, how long it took and the traceback if not. ``tests/test_notebooks.py`` reads it, so
  each notebook is executed once under pytest, by the book build itself.
"""
from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError

#: Files the pages load, relative to book/vendor/ (copied there by tools/build_book.py).
REQUIRED_ASSETS = (
    "mathjax/tex-chtml.js",
    "mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
    "require/require.js",
    "jupyter-widgets/embed-amd.js",
)

REPORT_NAME = "exec_report.json"

STATIC = Path(__file__).resolve().parent / "static"

#: AMD module names defined by embed-amd.js.
WIDGET_MODULES = (
    "@jupyter-widgets/base",
    "@jupyter-widgets/base7",
    "@jupyter-widgets/controls",
    "@jupyter-widgets/controls7",
    "@jupyter-widgets/output",
    "@jupyter-widgets/html-manager",
    "@jupyter-widgets/html-manager/dist/libembed-amd",
)


def build_year() -> int:
    """The year of the build: from ``SOURCE_DATE_EPOCH`` if set, else today (UTC)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        when = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
    else:
        when = datetime.datetime.now(tz=datetime.timezone.utc)
    return when.year


def set_copyright(app: Sphinx, config: Config) -> None:
    config.copyright = f"{build_year()}, {config.author}"


def check_assets(app: Sphinx, config: Config) -> None:
    confdir = Path(app.confdir)
    missing = []
    for static in config.html_static_path:
        root = confdir / static
        missing = [name for name in REQUIRED_ASSETS if not (root / name).is_file()]
        if not missing:
            return
    raise ConfigError(
        "the book's offline browser assets are missing from "
        f"{', '.join(config.html_static_path) or '(no html_static_path)'}: {', '.join(missing)}. "
        "Build with `make book` or `python tools/build_book.py`, which runs `npm ci` and copies "
        "them from node_modules/.")


def add_static_path(app: Sphinx, config: Config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def page_assets(app: Sphinx, pagename: str, templatename: str, context: dict,
                doctree) -> None:
    """Per-page script fixes; runs after myst-nb and sphinx.ext.mathjax added theirs."""
    if app.builder is None or app.builder.format != "html":
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    try:
        has_widgets = "ipywidgets_state" in NbMetadataCollector.get_js_files(app.env, pagename)
    except KeyError:  # not a document (genindex, search)
        has_widgets = False
    if has_widgets:
        base = context["pathto"]("_static/jupyter-widgets", 1)
        paths = {name: f"{base}/{name.rsplit('/', 1)[-1]}" for name in WIDGET_MODULES}
        # A global `require` defined before require.js is its configuration.
        body = (f"var require = {json.dumps({'paths': paths})};\n"
                f"window.__jupyter_widgets_assets_path__ = "
                f"new URL({json.dumps(base + '/')}, document.baseURI).href;")
        app.add_js_file(None, body=body, priority=400)
        mathjax = app.config.mathjax_path
        if any(js.filename == f"_static/{mathjax}" for js in context["script_files"]):
            app.add_js_file("wconv-mathjax2-compat.js", priority=501, loading_method="defer")
    scripts = context["script_files"]
    seen, unique = set(), []
    for js in scripts:
        key = (js.filename or "", tuple(sorted((k, str(v)) for k, v in js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def write_exec_report(app: Sphinx, exception: Exception | None) -> None:
    """Record myst-nb's execution data of every notebook next to the HTML output."""
    from myst_nb.sphinx_ import NbMetadataCollector

    report = {}
    for docname in sorted(app.env.found_docs):
        try:
            data = NbMetadataCollector.get_exec_data(app.env, docname)
        except KeyError:
            data = None
        if not data:
            continue
        report[docname] = {
            "source": str(app.env.doc2path(docname, base=False)),
            "method": data.get("method"),
            "succeeded": bool(data.get("succeeded")),
            "runtime_s": data.get("runtime"),
            "error": data.get("error"),
            "traceback": data.get("traceback"),
        }
    out = Path(app.outdir).parent / REPORT_NAME
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1, sort_keys=True))
    os.replace(tmp, out)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", set_copyright)
    app.connect("config-inited", add_static_path)
    app.connect("config-inited", check_assets)
    app.connect("html-page-context", page_assets, priority=900)
    app.connect("build-finished", write_exec_report)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
