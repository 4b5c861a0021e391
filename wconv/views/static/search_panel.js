/* Search panel: the browser side of wconv.views.search_replay.
 *
 * The reader picks a task and a kernel size, moves the search box's bounds and the budget, and
 * the page runs DIRECT-L (window.wconvDirectL, static/direct_l.js: NLopt's GN_DIRECT_L rules)
 * on a stored landscape: an interpolation, computed in Python when the book was built, of the
 * objective values of the stored search logs, sampled on a regular grid and interpolated here
 * (linearly between grid nodes). Left: where DIRECT-L samples (colour = order) over the heat map
 * of the landscape (2 parameters) or on its curve (1 parameter); right: every value and the best
 * so far against the evaluation count. No kernel and no network are needed.
 */
(function () {
  'use strict';

  // viridis at 0, 0.25, 0.5, 0.75, 1 (low values dark)
  var STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  function colour(t) {
    t = t < 0 ? 0 : (t > 1 ? 1 : t);
    var s = t * (STOPS.length - 1), i = Math.min(Math.floor(s), STOPS.length - 2), u = s - i, k, c = [];
    for (k = 0; k < 3; k++) { c.push(Math.round(STOPS[i][k] + u * (STOPS[i + 1][k] - STOPS[i][k]))); }
    return c;
  }

  function css(c) { return 'rgb(' + c[0] + ',' + c[1] + ',' + c[2] + ')'; }

  /** The landscape as a function of den: linear (1-D) or bilinear (2-D) between grid nodes. */
  function interpolator(land) {
    var lo = land.lower, hi = land.upper, shape = land.shape, v = land.values, d = shape.length;
    function locate(x, j) {
      var t = (x - lo[j]) / (hi[j] - lo[j]) * (shape[j] - 1), i;
      t = t < 0 ? 0 : (t > shape[j] - 1 ? shape[j] - 1 : t);
      i = Math.min(Math.floor(t), shape[j] - 2);
      return [i, t - i];
    }
    return function (x) {
      var a = locate(x[0], 0);
      if (d === 1) { return v[a[0]] * (1 - a[1]) + v[a[0] + 1] * a[1]; }
      var b = locate(x[1], 1), n1 = shape[1], i = a[0], j = b[0];
      return (v[i * n1 + j] * (1 - a[1]) + v[(i + 1) * n1 + j] * a[1]) * (1 - b[1]) +
             (v[i * n1 + j + 1] * (1 - a[1]) + v[(i + 1) * n1 + j + 1] * a[1]) * b[1];
    };
  }

  function fmt(x, digits) { return Number(x).toFixed(digits === undefined ? 3 : digits); }

  // ------------------------------------------------------------------------- drawing
  var PAD = { left: 58, right: 14, top: 14, bottom: 44 };

  function frame(ctx, w, h, xlabel, ylabel, xr, yr, right) {
    var pw = w - PAD.left - (right || PAD.right), ph = h - PAD.top - PAD.bottom, k, x, y;
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
    ctx.strokeStyle = '#444'; ctx.lineWidth = 1;
    ctx.strokeRect(PAD.left + 0.5, PAD.top + 0.5, pw, ph);
    ctx.fillStyle = '#222'; ctx.font = '11px sans-serif'; ctx.textAlign = 'center';
    for (k = 0; k <= 4; k++) {
      x = PAD.left + pw * k / 4;
      ctx.fillText(fmt(xr[0] + (xr[1] - xr[0]) * k / 4, xr[2]), x, PAD.top + ph + 14);
    }
    ctx.fillText(xlabel, PAD.left + pw / 2, h - 8);
    ctx.textAlign = 'right';
    for (k = 0; k <= 4; k++) {
      y = PAD.top + ph - ph * k / 4;
      ctx.fillText(fmt(yr[0] + (yr[1] - yr[0]) * k / 4, yr[2]), PAD.left - 4, y + 4);
    }
    ctx.save(); ctx.translate(12, PAD.top + ph / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center'; ctx.fillText(ylabel, 0, 0); ctx.restore();
    return {
      x: function (v) { return PAD.left + (v - xr[0]) / (xr[1] - xr[0]) * pw; },
      y: function (v) { return PAD.top + ph - (v - yr[0]) / (yr[1] - yr[0]) * ph; },
      clip: function () { ctx.save(); ctx.beginPath(); ctx.rect(PAD.left, PAD.top, pw, ph); ctx.clip(); },
      pw: pw, ph: ph
    };
  }

  function range(vals) {
    var lo = Infinity, hi = -Infinity, i, pad;
    for (i = 0; i < vals.length; i++) { if (isFinite(vals[i])) { lo = Math.min(lo, vals[i]); hi = Math.max(hi, vals[i]); } }
    pad = (hi - lo) * 0.05 || 0.01;
    return [lo - pad, hi + pad];
  }

  function drawSamples(ctx, land, evals, box) {
    var c = ctx.canvas, lo = land.lower, hi = land.upper, n = evals.length, t, i, j, px, p;
    if (land.shape.length === 2) {
      var ax = frame(ctx, c.width, c.height, 'den[0] (outermost tap)', 'den[1]',
                     [lo[0], hi[0], 2], [lo[1], hi[1], 2], 70);
      var vmin = land.min, vmax = land.max;
      var img = ctx.createImageData(Math.round(ax.pw), Math.round(ax.ph)), f = interpolator(land);
      for (j = 0; j < img.height; j++) {
        for (i = 0; i < img.width; i++) {
          p = colour((f([lo[0] + (hi[0] - lo[0]) * (i + 0.5) / img.width,
                         hi[1] - (hi[1] - lo[1]) * (j + 0.5) / img.height]) - vmin) / (vmax - vmin));
          px = 4 * (j * img.width + i);
          img.data[px] = p[0]; img.data[px + 1] = p[1]; img.data[px + 2] = p[2]; img.data[px + 3] = 255;
        }
      }
      ctx.putImageData(img, PAD.left + 1, PAD.top + 1);
      colourBar(ctx, PAD.left + ax.pw + 10, PAD.top, ax.ph, vmin, vmax);
      ctx.strokeStyle = '#fff'; ctx.setLineDash([4, 3]);
      ctx.strokeRect(ax.x(box[0]), ax.y(box[1]), ax.x(box[1]) - ax.x(box[0]), ax.y(box[0]) - ax.y(box[1]));
      ctx.setLineDash([]);
      ctx.fillStyle = '#000';
      for (i = 0; i < land.stored.length; i++) {
        ctx.fillRect(ax.x(land.stored[i][0][0]) - 1.5, ax.y(land.stored[i][0][1]) - 1.5, 3, 3);
      }
      for (i = 0; i < n; i++) {
        t = n > 1 ? i / (n - 1) : 0;
        ctx.beginPath(); ctx.arc(ax.x(evals[i].x[0]), ax.y(evals[i].x[1]), 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = 'rgb(' + Math.round(255 * t) + ',' + Math.round(80 * (1 - t)) + ',' + Math.round(255 * (1 - t)) + ')';
        ctx.fill(); ctx.strokeStyle = '#fff'; ctx.lineWidth = 0.8; ctx.stroke();
      }
    } else {
      var vals = land.values.slice(), xs = [];
      for (i = 0; i < n; i++) { vals.push(evals[i].f); }
      var ax1 = frame(ctx, c.width, c.height, 'den[0] (outer tap weight)', land.value_label,
                      [lo[0], hi[0], 2], range(vals).concat([3]));
      ctx.fillStyle = 'rgba(120,120,120,0.15)';
      ctx.fillRect(ax1.x(box[0]), PAD.top, ax1.x(box[1]) - ax1.x(box[0]), ax1.ph);
      ax1.clip();
      ctx.strokeStyle = '#888'; ctx.lineWidth = 1.5; ctx.beginPath();
      for (i = 0; i < land.values.length; i++) {
        xs = lo[0] + (hi[0] - lo[0]) * i / (land.values.length - 1);
        if (i === 0) { ctx.moveTo(ax1.x(xs), ax1.y(land.values[i])); } else { ctx.lineTo(ax1.x(xs), ax1.y(land.values[i])); }
      }
      ctx.stroke();
      ctx.fillStyle = '#000';
      for (i = 0; i < land.stored.length; i++) {
        ctx.fillRect(ax1.x(land.stored[i][0][0]) - 1.5, ax1.y(land.stored[i][1]) - 1.5, 3, 3);
      }
      for (i = 0; i < n; i++) {
        t = n > 1 ? i / (n - 1) : 0;
        ctx.beginPath(); ctx.arc(ax1.x(evals[i].x[0]), ax1.y(evals[i].f), 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = 'rgb(' + Math.round(255 * t) + ',' + Math.round(80 * (1 - t)) + ',' + Math.round(255 * (1 - t)) + ')';
        ctx.fill();
      }
      ctx.restore();
    }
  }

  /** A vertical colour bar: the landscape's values, low (dark) at the bottom. */
  function colourBar(ctx, x, y, h, vmin, vmax) {
    var j, p;
    for (j = 0; j < h; j++) {
      ctx.fillStyle = css(colour(1 - j / (h - 1)));
      ctx.fillRect(x, y + j, 10, 1);
    }
    ctx.strokeStyle = '#444'; ctx.strokeRect(x + 0.5, y + 0.5, 10, h);
    ctx.fillStyle = '#222'; ctx.font = '10px sans-serif'; ctx.textAlign = 'left';
    for (j = 0; j <= 4; j++) {
      p = vmin + (vmax - vmin) * j / 4;
      ctx.fillText(fmt(p, 2), x + 13, y + h - h * j / 4 + 3);
    }
  }

  function drawBest(ctx, land, evals) {
    var c = ctx.canvas, n = evals.length, vals = [], best = Infinity, bests = [], i;
    for (i = 0; i < n; i++) { vals.push(evals[i].f); best = Math.min(best, evals[i].f); bests.push(best); }
    var ax = frame(ctx, c.width, c.height, 'evaluation', land.value_label, [1, Math.max(n, 2), 0],
                   range(vals).concat([3]));
    ctx.fillStyle = '#1f77b4';
    for (i = 0; i < n; i++) { ctx.beginPath(); ctx.arc(ax.x(i + 1), ax.y(vals[i]), 2.5, 0, 2 * Math.PI); ctx.fill(); }
    ctx.strokeStyle = '#d62728'; ctx.lineWidth = 2; ctx.beginPath();
    for (i = 0; i < n; i++) { if (i === 0) { ctx.moveTo(ax.x(1), ax.y(bests[0])); } else { ctx.lineTo(ax.x(i + 1), ax.y(bests[i])); } }
    ctx.stroke();
    ctx.textAlign = 'right'; ctx.font = '11px sans-serif';
    ctx.fillStyle = '#d62728'; ctx.fillText('best so far', c.width - PAD.right - 4, PAD.top + 14);
    ctx.fillStyle = '#1f77b4'; ctx.fillText('each evaluation', c.width - PAD.right - 4, PAD.top + 28);
  }

  // ------------------------------------------------------------------------- the panel
  function mount(config) {
    var root = document.getElementById(config.id);
    if (!root || root.dataset.mounted) { return; }
    root.dataset.mounted = '1';
    root.dataset.redraws = '0';
    var q = function (name) { return root.querySelector('.wconv-sp-' + name); };
    var task = q('task'), size = q('size'), lower = q('lower'), upper = q('upper'), budget = q('budget');
    var about = q('about'), result = q('result');
    var samples = q('samples').getContext('2d'), bestPlot = q('best').getContext('2d');
    var lands = config.landscapes, current = null;

    function tasks() {
      var seen = {}, out = [];
      lands.forEach(function (l) { if (!seen[l.task]) { seen[l.task] = 1; out.push(l); } });
      return out;
    }
    function options(select, items, label, value) {
      select.innerHTML = '';
      items.forEach(function (it) {
        var o = document.createElement('option'); o.value = value(it); o.textContent = label(it); select.appendChild(o);
      });
    }
    function choose() {
      current = lands.filter(function (l) { return l.task === task.value && String(l.kernel_size) === size.value; })[0];
      var lo = current.lower[0], hi = current.upper[0], step = (hi - lo) / 100;
      [lower, upper].forEach(function (el) { el.min = lo; el.max = hi; el.step = step; });
      lower.value = lo; upper.value = hi;
      about.textContent = current.about;
    }
    function sizes() {
      options(size, lands.filter(function (l) { return l.task === task.value; }),
              function (l) { return l.kernel_size + '×' + l.kernel_size + ' (' + l.shape.length + ' parameter' + (l.shape.length > 1 ? 's' : '') + ')'; },
              function (l) { return l.kernel_size; });
      choose();
    }
    function readout(el, text) { root.querySelector('.wconv-sp-' + el + '-value').textContent = text; }

    function run() {
      var gap = (current.upper[0] - current.lower[0]) / 20, lo = +lower.value, hi = +upper.value, d = current.shape.length;
      if (hi - lo < gap) {   // keep a box: move the bound that was not just moved
        if (this === lower) { lo = Math.min(lo, current.upper[0] - gap); hi = lo + gap; upper.value = hi; }
        else { hi = Math.max(hi, current.lower[0] + gap); lo = hi - gap; lower.value = lo; }
        lo = +lower.value; hi = +upper.value;
      }
      var lowerBox = [], upperBox = [], i, n = +budget.value, f = interpolator(current);
      for (i = 0; i < d; i++) { lowerBox.push(lo); upperBox.push(hi); }
      readout('lower', fmt(lo, 2)); readout('upper', fmt(hi, 2)); readout('budget', String(n));
      var t0 = performance.now();
      var evals = window.wconvDirectL.directL(f, lowerBox, upperBox, n);
      var ms = performance.now() - t0, best = evals[0], at = 1;
      for (i = 1; i < evals.length; i++) { if (evals[i].f < best.f) { best = evals[i]; at = i + 1; } }
      drawSamples(samples, current, evals, [lo, hi]);
      drawBest(bestPlot, current, evals);
      result.textContent = 'DIRECT-L on [' + fmt(lo, 2) + ', ' + fmt(hi, 2) + ']' + (d > 1 ? '^' + d : '') +
        ': ' + evals.length + ' evaluations in ' + fmt(ms, 1) + ' ms; best ' + current.value_label + ' ' +
        fmt(best.f, 3) + ' at den = (' + best.x.map(function (v) { return fmt(v, 3); }).join(', ') +
        '), first reached at evaluation ' + at + '. Points coloured by order (blue first, red last); ' +
        (d > 1 ? 'dashed: the search box; colour bar: the landscape; black: stored evaluations.' : 'shaded: the search box; grey line: the landscape, black: stored evaluations.');
      root.dataset.redraws = String(+root.dataset.redraws + 1);
      root.dataset.evals = JSON.stringify(evals.map(function (e) { return e.x; }));
      root.dataset.ms = String(ms);
    }

    options(task, tasks(), function (l) { return l.task_label; }, function (l) { return l.task; });
    task.addEventListener('change', function () { sizes(); run(); });
    size.addEventListener('change', function () { choose(); run(); });
    [lower, upper, budget].forEach(function (el) { el.addEventListener('input', run); });
    sizes();
    run();
  }

  return { mount: mount, interpolator: interpolator };
})
