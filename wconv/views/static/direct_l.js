/* DIRECT-L in the browser: the locally biased DIRECT of Gablonsky and Kelley (2001), as NLopt's
 * GN_DIRECT_L runs it (Steven G. Johnson's `cdirect` re-implementation), so that the book's
 * static page samples the points the Python search (wconv.experiments.search, NLopt) would.
 *
 *   directL(f, lower, upper, maxEvals) -> [{x, f}, ...]   (every evaluation, in order)
 *
 * The rules, as NLopt's GN_DIRECT_L applies them (each one changes which points are sampled):
 * - The box is rescaled to the unit cube; f is called at lower + u (upper - lower).
 * - A rectangle is a centre c, side widths w, the value at c, and an "age" (a counter that also
 *   restarts when a rectangle is divided). Its size is half its longest side, rounded to single
 *   precision (so that equal sizes compare equal); rectangles are ordered by (size, value, age).
 * - Division: every side within 5 % of the longest is probed at c ± w/3 (sides in index order,
 *   minus before plus); the sides are then cut in thirds in increasing order of the smaller of
 *   their two values (ties: lower index first), each cut leaving two new rectangles.
 * - Selection, per round: for every size, the rectangle with the lowest value (the oldest among
 *   equal values); the lower convex hull of these (size, value) points, from the smallest size
 *   to the largest. As in NLopt, points above the chord from the first to the last are dropped,
 *   collinear points stay, and the second point of the hull is never removed (NLopt's backward
 *   scan stops one point early). A hull point is divided when the line through it and its right
 *   neighbour (or left, if steeper) meets size 0 at or below the best value found so far
 *   (Jones's epsilon is 0 in GN_DIRECT_L); the largest is always divided. The slopes use the
 *   sizes as they are at that moment, so a left neighbour divided earlier in the round counts
 *   with its new size.
 * - The search stops right after the maxEvals-th evaluation, mid-division if need be (the first
 *   evaluation, at the centre, is never a stop: with maxEvals = 1 there are two).
 *
 * Exported for Node too: `(0, eval)('(' + source + ')')()` returns {directL, size}.
 */
(function () {
  'use strict';

  var THIRD = 1 / 3;           // NLopt's 0.3333333333333333333333, the same double
  var EQUAL_SIDE_TOL = 0.05;   // sides within 5 % of the longest count as longest
  var STOP = {};               // thrown when the budget is spent

  /** Half the longest side, rounded to single precision (NLopt's Gablonsky measure). */
  function size(w) {
    var wmax = 0, i;
    for (i = 0; i < w.length; i++) { if (w[i] > wmax) { wmax = w[i]; } }
    return Math.fround(wmax * 0.5);
  }

  function byKey(a, b) {
    if (a.d !== b.d) { return a.d < b.d ? -1 : 1; }
    if (a.f !== b.f) { return a.f < b.f ? -1 : 1; }
    return a.age - b.age;
  }

  /** Minimise f over the box [lower, upper] with at most maxEvals evaluations of f.
   *  f takes an array x and returns a number; the result lists {x, f} in evaluation order.
   *  Example: directL(function (x) { return (x[0] - 0.3) * (x[0] - 0.3); }, [0], [1], 5)
   *           samples x = 0.5, 0.1667, 0.8333, 0.0556, 0.2778. */
  function directL(f, lower, upper, maxEvals, epsilon) {
    var n = lower.length, evaluations = [], rects = [], age = 0, best = Infinity, i;
    var eps = epsilon || 0;
    if (!(n > 0) || upper.length !== n) { throw new Error('lower and upper must have the same length > 0'); }
    for (i = 0; i < n; i++) {
      if (!(upper[i] > lower[i])) { throw new Error('need lower[' + i + '] < upper[' + i + ']'); }
    }
    if (!(maxEvals >= 1) || !isFinite(maxEvals)) { throw new Error('maxEvals must be a finite number >= 1'); }

    function evaluate(u, mayStop) {
      var x = new Array(n), j, v;
      for (j = 0; j < n; j++) { x[j] = lower[j] + u[j] * (upper[j] - lower[j]); }
      v = +f(x);
      evaluations.push({ x: x, f: v });
      if (v < best) { best = v; }
      if (mayStop && evaluations.length >= maxEvals) { throw STOP; }
      return v;
    }

    function divide(r) {
      var c = r.c, w = r.w, wmax = w[0], sides = [], fv = [], j, k, s, saved, child;
      for (j = 1; j < n; j++) { if (w[j] > wmax) { wmax = w[j]; } }
      for (j = 0; j < n; j++) {
        if (wmax - w[j] <= wmax * EQUAL_SIDE_TOL) {
          saved = c[j];
          c[j] = saved - w[j] * THIRD;
          fv[j] = [evaluate(c, true)];
          c[j] = saved + w[j] * THIRD;
          fv[j].push(evaluate(c, true));
          c[j] = saved;
          sides.push(j);
        }
      }
      sides.sort(function (a, b) {   // stable: ties keep the lower index first
        var fa = Math.min(fv[a][0], fv[a][1]), fb = Math.min(fv[b][0], fv[b][1]);
        return fa < fb ? -1 : (fa > fb ? 1 : 0);
      });
      for (s = 0; s < sides.length; s++) {
        j = sides[s];
        w[j] *= THIRD;
        r.d = size(w);
        r.age = age++;
        for (k = 0; k <= 1; k++) {
          child = { c: c.slice(), w: w.slice(), d: r.d, f: fv[j][k], age: 0 };
          child.c[j] += w[j] * (2 * k - 1);
          child.age = age++;
          rects.push(child);
        }
      }
    }

    /** The rectangles worth dividing this round: the lower hull of (size, lowest value). */
    function hull() {
      var sorted = rects.slice().sort(byKey), lowest = [], h, first, last, slope, j, k, t1, t2;
      for (j = 0; j < sorted.length; j++) {
        if (!lowest.length || lowest[lowest.length - 1].d !== sorted[j].d) { lowest.push(sorted[j]); }
      }
      first = lowest[0];
      last = lowest[lowest.length - 1];
      h = [first];
      if (lowest.length === 1) { return { points: h, largest: last }; }
      slope = (last.f - first.f) / (last.d - first.d);
      for (j = 1; j < lowest.length - 1; j++) {
        k = lowest[j];
        if (k.f > first.f + (k.d - first.d) * slope) { continue; }
        while (h.length > 2) {       // > 2, not > 1: NLopt never removes the second point
          t1 = h[h.length - 1]; t2 = h[h.length - 2];
          if ((t1.d - t2.d) * (k.f - t2.f) - (t1.f - t2.f) * (k.d - t2.d) >= 0) { break; }
          h.pop();
        }
        h.push(k);
      }
      h.push(last);
      return { points: h, largest: last };
    }

    function round() {
      var sel = hull(), h = sel.points, divided = false, j, k1, k2, slope;
      for (j = 0; j < h.length; j++) {
        k1 = j > 0 ? (h[j].f - h[j - 1].f) / (h[j].d - h[j - 1].d) : -Infinity;
        k2 = j + 1 < h.length ? (h[j].f - h[j + 1].f) / (h[j].d - h[j + 1].d) : -Infinity;
        slope = k1 > k2 ? k1 : k2;
        if (h[j].f - slope * h[j].d <= best - eps * Math.abs(best) || j + 1 === h.length) {
          divide(h[j]);
          divided = true;
        }
      }
      if (!divided) { divide(sel.largest); }   // NLopt's fallback: largest size, lowest value
    }

    try {
      var root = { c: [], w: [], d: 0, f: 0, age: 0 };
      for (i = 0; i < n; i++) { root.c.push(0.5); root.w.push(1); }
      root.d = size(root.w);
      root.f = evaluate(root.c, false);
      root.age = age++;
      rects.push(root);
      divide(root);
      for (;;) { round(); }
    } catch (e) {
      if (e !== STOP) { throw e; }
    }
    return evaluations;
  }

  return { directL: directL, size: size };
})
