"""The package's three layers, read from its source with ``ast`` (nothing is imported or run).

* the library (``wconv/*.py``) imports no experiment and no view module;
* ``wconv.experiments`` imports no view module;
* only ``wconv.views`` (and the command line on top) import matplotlib, ipywidgets or IPython;
* there is no import cycle, counting the imports inside functions too;
* no module is much over 700 lines.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "wconv"
UI = ("matplotlib", "ipywidgets", "IPython")
MAX_LINES = 720


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def imports(path: Path, names: set[str], package: Path = PACKAGE) -> set[str]:
    """Every module ``path`` imports (package modules resolved to the module named, or to the
    package when the name is an attribute of its ``__init__``; others by their top name)."""
    me = module_name(path, package)
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".") if is_package else me.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in names else target)
    return found


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    mods = modules(package)
    names = set(mods)
    return {name: imports(path, names, package) for name, path in mods.items()}


def layer(name: str) -> str:
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in ("experiments", "views"):
        return parts[1]
    if name == "wconv.__main__":
        return "command line"
    return "library"


def violations(g: dict[str, set[str]]) -> list[str]:
    allowed = {"library": {"library"}, "experiments": {"library", "experiments"},
               "views": {"library", "experiments", "views"},
               "command line": {"library", "experiments", "views", "command line"}}
    out = []
    for mod, targets in sorted(g.items()):
        for t in sorted(targets):
            if t.split(".")[0] == "wconv" and t != "wconv" and layer(t) not in allowed[layer(mod)]:
                out.append(f"{mod} ({layer(mod)}) imports {t} ({layer(t)})")
            if t.split(".")[0] in UI and layer(mod) != "views":
                out.append(f"{mod} ({layer(mod)}) imports {t}")
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in g:
                continue
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

    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(out)


def test_the_package_has_three_layers_and_imports_go_down():
    g = graph()
    assert {layer(m) for m in g} == {"library", "experiments", "views", "command line"}
    assert violations(g) == []


def test_no_import_cycle():
    g = graph()
    # the package's __init__ imports its library modules; a library module importing
    # ``__version__`` from it is not a cycle of modules
    g = {m: {t for t in ts if t != "wconv"} for m, ts in g.items()}
    assert cycles(g) == []


def test_no_module_is_much_over_700_lines():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_checks_catch_what_they_forbid(tmp_path):
    """The same checks on a tiny package that breaks every rule."""
    pkg = tmp_path / "wconv"
    for folder in (pkg / "experiments", pkg / "views"):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "density.py").write_text("from .experiments import task\n")          # library -> experiments
    (pkg / "experiments" / "task.py").write_text(
        "import matplotlib.pyplot as plt\n"                                     # UI outside views
        "def f():\n    from ..views import page\n")                              # experiments -> views
    (pkg / "views" / "page.py").write_text("from ..experiments import task\n")
    (pkg / "experiments" / "a.py").write_text("from . import b\n")
    (pkg / "experiments" / "b.py").write_text("def g():\n    from .a import g\n")  # a <-> b, lazily
    g = graph(pkg)
    assert violations(g) == [
        "wconv.density (library) imports wconv.experiments.task (experiments)",
        "wconv.experiments.task (experiments) imports matplotlib.pyplot",
        "wconv.experiments.task (experiments) imports wconv.views.page (views)"]
    assert cycles(g) == [["wconv.experiments.a", "wconv.experiments.b"],
                         ["wconv.experiments.task", "wconv.views.page"]]


@pytest.mark.parametrize("name", ["wconv.density", "wconv.experiments.results", "wconv.views.tables"])
def test_module_names_resolve(name):
    assert name in modules()
