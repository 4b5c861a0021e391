"""DIRECT-L in headless Chromium (``wconv/views/static/direct_l.js``) against NLopt's ``GN_DIRECT_L``.

NLopt's points are recorded by wrapping the objective; the page runs the same function written
in JavaScript. The two must ask for the same points in the same order (to 1e-9 of the box's
side), for Branin's function on its usual box, Hartmann's 3-D function, a 1-D function (the
3 x 3 box of chapter 6 is one parameter) and a symmetric sphere (where the tie rules decide
every round). 100 evaluations must take under 100 ms in the page. Nothing is served: the script
is evaluated in a blank page, so no request can leave the machine.
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest

from wconv.views import scripts

nlopt = pytest.importorskip("nlopt")

HARTMANN_A = [[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]]
HARTMANN_P = [[0.3689, 0.1170, 0.2673], [0.4699, 0.4387, 0.7470],
              [0.1091, 0.8732, 0.5547], [0.0381, 0.5743, 0.8828]]
HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]


def branin(x):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * math.cos(x[0]) + 10


def hartmann3(x):
    return -sum(a * math.exp(-sum(A[j] * (x[j] - P[j]) ** 2 for j in range(3)))
                for a, A, P in zip(HARTMANN_ALPHA, HARTMANN_A, HARTMANN_P))


#: name -> (Python function, the same in JavaScript, lower, upper)
CASES = {
    "branin": (branin, """function (x) {
        var b = 5.1 / (4 * Math.PI ** 2), c = 5 / Math.PI, t = 1 / (8 * Math.PI);
        return (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * Math.cos(x[0]) + 10; }""",
               [-5, 0], [10, 15]),
    "hartmann3": (hartmann3, f"""function (x) {{
        var A = {HARTMANN_A}, P = {HARTMANN_P}, alpha = {HARTMANN_ALPHA}, s = 0, i, j, e;
        for (i = 0; i < 4; i++) {{
          for (e = 0, j = 0; j < 3; j++) {{ e += A[i][j] * (x[j] - P[i][j]) ** 2; }}
          s -= alpha[i] * Math.exp(-e);
        }}
        return s; }}""", [0, 0, 0], [1, 1, 1]),
    "1-D": (lambda x: math.sin(7 * x[0]) + (x[0] - 0.8) ** 2,
            "function (x) { return Math.sin(7 * x[0]) + (x[0] - 0.8) ** 2; }", [0.5], [1.5]),
    "symmetric sphere": (lambda x: x[0] ** 2 + x[1] ** 2,
                         "function (x) { return x[0] * x[0] + x[1] * x[1]; }", [-1, -1], [1, 1]),
}


def nlopt_points(f, lower, upper, max_evals: int) -> np.ndarray:
    """The points NLopt's GN_DIRECT_L evaluates, in order."""
    points = []

    def objective(x, grad):
        points.append(list(x))
        return f(x)

    opt = nlopt.opt(nlopt.GN_DIRECT_L, len(lower))
    opt.set_lower_bounds(lower)
    opt.set_upper_bounds(upper)
    opt.set_min_objective(objective)
    opt.set_maxeval(max_evals)
    opt.optimize([(lo + hi) / 2 for lo, hi in zip(lower, upper)])
    return np.array(points)


@pytest.fixture(scope="module")
def page(browser_ready, browser_context):
    page = browser_context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_content("<!DOCTYPE html><html><body></body></html>")
    page.evaluate("src => { window.wconvDirectL = (0, eval)('(' + src + ')')(); }",
                  scripts.path("direct_l").read_text(encoding="utf-8"))
    yield page
    assert errors == []
    page.close()


def first_difference(expected: np.ndarray, got: np.ndarray, lower, upper, tol=1e-9):
    """The first index where the points differ by more than ``tol`` of the box, or None."""
    span = np.array(upper, float) - np.array(lower, float)
    for i, (a, b) in enumerate(zip(expected, got)):
        if np.max(np.abs(a - b) / span) > tol:
            return i
    return None if len(expected) == len(got) else min(len(expected), len(got))


@pytest.mark.parametrize("name", list(CASES))
def test_direct_l_samples_the_points_of_nlopt(page, name):
    f, js, lower, upper = CASES[name]
    n = 100
    expected = nlopt_points(f, lower, upper, n)
    got = page.evaluate(f"([lo, hi, n]) => wconvDirectL.directL({js}, lo, hi, n)", [lower, upper, n])
    points = np.array([e["x"] for e in got])
    assert len(expected) == n and len(points) == n
    index = first_difference(expected, points, lower, upper)
    assert index is None, (f"{name}: first different point at evaluation {index}: NLopt "
                           f"{expected[index].tolist()}, browser {points[index].tolist()}")
    values = np.array([e["f"] for e in got])
    assert np.allclose(values, [f(x) for x in expected], rtol=1e-12, atol=1e-12)


def test_direct_l_is_fast_enough(page):
    _, js, lower, upper = CASES["branin"]
    ms = page.evaluate(f"""([lo, hi]) => {{
        const f = {js}, times = [];
        for (let r = 0; r < 7; r++) {{
          const t0 = performance.now();
          wconvDirectL.directL(f, lo, hi, 100);
          times.push(performance.now() - t0);
        }}
        return times.sort((a, b) => a - b)[3];
      }}""", [lower, upper])
    print(f"\nDIRECT-L, 100 evaluations of Branin's function in Chromium: {ms:.2f} ms (median of 7)")
    assert ms < 100


def test_direct_l_rejects_bad_arguments(page):
    for args in ("[0], [1], 0", "[1], [0], 5", "[0, 0], [1], 5"):
        message = page.evaluate(f"() => {{ try {{ wconvDirectL.directL(x => x[0], {args}); }}"
                                " catch (e) { return e.message; } return null; }")
        assert message, args


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js not installed")
def test_direct_l_under_node_samples_the_points_of_nlopt():
    """The same check without a browser (where Node.js is installed): Branin, 300 evaluations."""
    _, js, lower, upper = CASES["branin"]
    source = (f"const d = {scripts.node_loader('direct_l')};"
              f"process.stdout.write(JSON.stringify(d.directL({js}, {lower}, {upper}, 300).map(e => e.x)))")
    got = np.array(json.loads(subprocess.run(["node", "-e", source], capture_output=True, text=True,
                                             check=True, timeout=60).stdout))
    expected = nlopt_points(CASES["branin"][0], lower, upper, 300)
    assert first_difference(expected, got, lower, upper) is None
