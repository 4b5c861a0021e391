"""Build the book: browser assets, then a strict Jupyter Book build.

This is the one place the build logic lives; ``make book`` and ``tests/`` both call it.

Steps:

1. ``npm ci`` when ``node_modules/`` is missing or older than ``package.json`` /
   ``package-lock.json`` (stamp ``node_modules/.wconv-installed``);
2. copy the files the pages need (MathJax 3 with its fonts, RequireJS, the ipywidgets embed
   manager with its fonts, ONNX Runtime Web's WebAssembly build for chapter 5's denoiser
   panel) from ``node_modules/`` into ``book/vendor/`` -- a folder that
   ``_config.yml`` adds to Sphinx's ``html_static_path``, so they end up in
   ``_build/html/_static/`` and no page needs a CDN;
3. ``jupyter-book build . -W -n --keep-going --all`` with ``WCONV_PROFILE`` set (default
   ``book``), which executes every notebook and fails on any warning or cell error.

Usage::

    python tools/build_book.py                      # book profile, output in _build/html
    python tools/build_book.py --profile smoke --output _build/smoke
    python tools/build_book.py assets               # steps 1-2 only
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
NPM_STAMP = NODE_MODULES / ".wconv-installed"
VENDOR = ROOT / "book" / "vendor"
PROFILES = ("smoke", "book", "full")

#: (source under node_modules/, destination under book/vendor/); a source ending in "/" is a
#: folder copied whole, a "*" pattern copies the matching files of that folder.
ASSETS = (
    ("requirejs/require.js", "require/require.js"),
    # The AMD embed bundle contains @jupyter-widgets/base, controls and output; its CSS loads
    # Font Awesome from the folder of the script itself (webpack public path = module URI).
    ("@jupyter-widgets/html-manager/dist/embed-amd.js", "jupyter-widgets/embed-amd.js"),
    ("@jupyter-widgets/html-manager/dist/*.woff2", "jupyter-widgets/"),
    ("@jupyter-widgets/html-manager/dist/*.woff", "jupyter-widgets/"),
    ("@jupyter-widgets/html-manager/dist/*.ttf", "jupyter-widgets/"),
    ("@jupyter-widgets/html-manager/dist/*.eot", "jupyter-widgets/"),
    ("@jupyter-widgets/html-manager/dist/*.svg", "jupyter-widgets/"),
    # MathJax 3: the TeX-to-CommonHTML component, its woff fonts (loaded relative to the
    # script), the TeX extensions it autoloads, and the menu/accessibility pieces the
    # right-click menu can load on demand.
    ("mathjax/es5/tex-chtml.js", "mathjax/tex-chtml.js"),
    ("mathjax/es5/output/chtml/fonts/woff-v2/", "mathjax/output/chtml/fonts/woff-v2/"),
    ("mathjax/es5/input/tex/extensions/", "mathjax/input/tex/extensions/"),
    ("mathjax/es5/ui/", "mathjax/ui/"),
    ("mathjax/es5/a11y/", "mathjax/a11y/"),
    ("mathjax/es5/sre/", "mathjax/sre/"),
    ("mathjax/es5/adaptors/", "mathjax/adaptors/"),
    ("mathjax/LICENSE", "mathjax/LICENSE"),
)

#: Folder of ONNX Runtime Web under book/vendor/ (so under _static/ in the HTML).
ORT_FOLDER = "onnxruntime-web"
#: ONNX Runtime Web for the denoiser panel (wconv/denoiser_panel.py), WebAssembly backend only:
#: the script (no WebGL/WebGPU code), the one wasm build it loads (SIMD; built with threads, run
#: single-threaded since a static host gives no cross-origin isolation) and that build's
#: ES-module loader. 14.3 MB, nearly all of it the .wasm file (3.7 MB gzipped).
ORT_ASSETS = tuple((f"onnxruntime-web/dist/{name}", f"{ORT_FOLDER}/{name}") for name in (
    "ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"))
ASSETS = ASSETS + ORT_ASSETS


def _lock_digest() -> str:
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_node_modules() -> None:
    """Run ``npm ci`` unless node_modules/ matches package-lock.json already."""
    digest = _lock_digest()
    if NPM_STAMP.is_file() and NPM_STAMP.read_text().strip() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("build_book: npm is needed to install the book's browser assets "
                         "(package-lock.json); install Node.js 18+ with npm")
    print("build_book: npm ci", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=ROOT,
                   check=True)
    NPM_STAMP.write_text(digest + "\n")


def copy_files(dest: Path, assets=ASSETS) -> Path:
    """Copy ``(source under node_modules/, destination under dest)`` pairs into ``dest``.

    A source ending in "/" is a folder copied whole; a "*" pattern copies the matching files
    of its folder. The tests use it to lay out a page's ``_static/`` the way the book does.
    """
    dest = Path(dest)
    for src, dst in assets:
        if src.endswith("/"):
            shutil.copytree(NODE_MODULES / src, dest / dst)
        elif "*" in src:
            folder, pattern = src.rsplit("/", 1)
            matches = sorted((NODE_MODULES / folder).glob(pattern))
            if not matches:
                raise SystemExit(f"build_book: no file matches node_modules/{src}")
            (dest / dst).mkdir(parents=True, exist_ok=True)
            for path in matches:
                shutil.copy2(path, dest / dst / path.name)
        else:
            (dest / dst).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(NODE_MODULES / src, dest / dst)
    return dest


def copy_assets() -> Path:
    """Copy the needed files from node_modules/ into book/vendor/ (atomically replaced)."""
    digest = hashlib.sha256((_lock_digest() + repr(ASSETS)).encode()).hexdigest()
    stamp = VENDOR / ".stamp"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return VENDOR
    tmp = VENDOR.with_name("vendor.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    copy_files(tmp, ASSETS)
    (tmp / ".stamp").write_text(digest + "\n")
    old = VENDOR.with_name("vendor.old")
    shutil.rmtree(old, ignore_errors=True)
    if VENDOR.exists():
        VENDOR.rename(old)
    tmp.rename(VENDOR)
    shutil.rmtree(old, ignore_errors=True)
    return VENDOR


def assets() -> Path:
    ensure_node_modules()
    return copy_assets()


def toc_docnames(root: Path = ROOT) -> list[str]:
    """Every page listed in ``_toc.yml`` (root first), as docnames like ``book/intro``."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                names.append(node["file"])
            for key, value in node.items():
                if key != "root":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    return [n[: -len(Path(n).suffix)] if Path(n).suffix in (".md", ".ipynb") else n
            for n in names]


def toc_problems(root: Path = ROOT) -> list[str]:
    """Pages of book/ missing from _toc.yml, and toc entries without a page."""
    pages = {p.relative_to(root).with_suffix("").as_posix()
             for pattern in ("*.ipynb", "*.md") for p in (root / "book").glob(pattern)}
    listed = set(toc_docnames(root))
    return ([f"book page not in _toc.yml: {name}" for name in sorted(pages - listed)]
            + [f"_toc.yml entry without a page: {name}" for name in sorted(listed - pages)])


def html_dir(output: str | os.PathLike | None = None, root: Path = ROOT) -> Path:
    """Where the HTML of a build with this ``--output`` ends up."""
    base = root if output is None else (root / output)
    return base / "_build" / "html"


def build(profile: str = "book", output: str | os.PathLike | None = None, *,
          fresh: bool = True, log: str | os.PathLike | None = None,
          extra_args: tuple[str, ...] = (), root: Path = ROOT,
          check_toc: bool = True) -> subprocess.CompletedProcess:
    """Install/copy the assets and run the strict Jupyter Book build.

    ``output`` is a folder (``--path-output``), relative to ``root`` or absolute; the HTML goes
    to ``<output>/_build/html`` (``_build/html`` when ``None``). ``root`` is the book's source
    folder (the repository; the tests build a throw-away book elsewhere). ``fresh`` rebuilds and so
    re-executes every page. With ``log``, the build's output is written to that file instead
    of the terminal. Returns the finished process; its return code is non-zero on any warning
    or cell error. With ``check_toc`` (the default) it refuses to build when a page of
    ``book/`` is missing from ``_toc.yml`` -- the configuration builds only the toc's pages
    (``only_build_toc_files``), so this check is what keeps a forgotten chapter from being
    skipped silently. The tests build without it and report the toc in a test of their own.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    problems = toc_problems(root) if check_toc else []
    if problems:
        print("build_book: " + "; ".join(problems), file=sys.stderr, flush=True)
        return subprocess.CompletedProcess(["build_book"], 1)
    assets()
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
           "build", str(root), "-W", "-n", "--keep-going"]
    if fresh:
        cmd.append("--all")
    if output is not None:
        cmd += ["--path-output", str(root / output)]
    cmd += list(extra_args)
    env = dict(os.environ, WCONV_PROFILE=profile)
    print(f"build_book: WCONV_PROFILE={profile} {' '.join(cmd[3:])}", flush=True)
    start = time.perf_counter()
    if log is None:
        proc = subprocess.run(cmd, cwd=root, env=env)
    else:
        with open(log, "w") as fh:
            proc = subprocess.run(cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT)
    print(f"build_book: finished in {time.perf_counter() - start:.1f} s with exit code "
          f"{proc.returncode}; HTML in {html_dir(output, root)}", flush=True)
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="?", choices=("build", "assets"), default="build")
    parser.add_argument("--profile", default=os.environ.get("WCONV_PROFILE", "book"),
                        choices=PROFILES, help="WCONV_PROFILE for the notebooks (default: "
                        "$WCONV_PROFILE, else book)")
    parser.add_argument("--output", default=None,
                        help="output folder relative to the repository root (default: .)")
    parser.add_argument("--incremental", action="store_true",
                        help="re-execute only changed pages (default: rebuild everything)")
    args = parser.parse_args(argv)
    if args.what == "assets":
        print(f"build_book: assets in {assets()}")
        return 0
    return build(args.profile, args.output, fresh=not args.incremental).returncode


if __name__ == "__main__":
    sys.exit(main())
