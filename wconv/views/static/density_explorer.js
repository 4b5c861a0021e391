/* Density explorer: the browser side of wconv.widgets.DensityExplorer.
 *
 * It redraws the 1-D profile, the 2-D mask and the photograph filtered by the
 * normalised kernel Φ / ΣΦ whenever one of the panel's ipywidgets sliders moves.
 * It needs no kernel: it finds the sliders in the page by their DOM classes
 * (`<uid>-size`, `<uid>-den0`, ...) and listens to their noUiSlider instances,
 * so it works in Jupyter (next to the Python callbacks) and on static pages where
 * @jupyter-widgets/html-manager renders the saved widget state.
 *
 * The arithmetic (profile, normalised 1-D kernel, separable filtering with edge
 * replication, readout text) is exported for Node too, so the Python tests can
 * check it against wconv.widgets.
 */
(function () {
  'use strict';

  /** Profile [...den, 1, ...reversed(den)] (den outermost first). */
  function profile(den) {
    var k = 2 * den.length + 1, p = new Float64Array(k), i;
    for (i = 0; i < den.length; i++) { p[i] = den[i]; p[k - 1 - i] = den[i]; }
    p[den.length] = 1;
    return p;
  }

  /** The 1-D factor of the normalised kernel Φ / ΣΦ = (p / Σp) ⊗ (p / Σp). */
  function kernel1d(den) {
    var p = profile(den), s = 0, i;
    for (i = 0; i < p.length; i++) { s += p[i]; }
    for (i = 0; i < p.length; i++) { p[i] /= s; }
    return p;
  }

  /** Separable filtering of a w×h image (row-major) with the normalised kernel, edge replication.
   *  Rows first, then columns; float64 throughout, as wconv.widgets.filter_image. */
  function filter(pixels, w, h, den) {
    var g = kernel1d(den), r = (g.length - 1) / 2;
    var tmp = new Float64Array(w * h), out = new Float64Array(w * h);
    var x, y, t, xx, yy, s, row;
    for (y = 0; y < h; y++) {
      row = y * w;
      for (x = 0; x < w; x++) {
        s = 0;
        for (t = -r; t <= r; t++) {
          xx = x + t; xx = xx < 0 ? 0 : (xx >= w ? w - 1 : xx);
          s += g[t + r] * pixels[row + xx];
        }
        tmp[row + x] = s;
      }
    }
    for (y = 0; y < h; y++) {
      for (x = 0; x < w; x++) {
        s = 0;
        for (t = -r; t <= r; t++) {
          yy = y + t; yy = yy < 0 ? 0 : (yy >= h ? h - 1 : yy);
          s += g[t + r] * tmp[yy * w + x];
        }
        out[y * w + x] = s;
      }
    }
    return out;
  }

  /** One line with the current numbers; wconv.widgets.readout_text writes the same. */
  function readoutText(den) {
    var p = profile(den), s = 0, i, parts = [];
    for (i = 0; i < p.length; i++) { s += p[i]; }
    for (i = 0; i < den.length; i++) { parts.push(den[i].toFixed(2)); }
    var k = p.length;
    return 'k = ' + k + ' \u00b7 den = [' + parts.join(', ') + '] \u00b7 \u03a3\u03a6 = ' +
      (s * s).toFixed(4) + ' \u00b7 centre weight of \u03a6/\u03a3\u03a6 = ' + (1 / (s * s)).toFixed(4);
  }

  /** Base64 string to Uint8Array (browser or Node). */
  function decode(b64) {
    if (typeof atob === 'function') {
      var bin = atob(b64), out = new Uint8Array(bin.length), i;
      for (i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
      return out;
    }
    return new Uint8Array(Buffer.from(b64, 'base64'));
  }

  // ---------------------------------------------------------------- drawing
  var VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
    [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];

  function viridis(t) {
    t = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
    var i = Math.min(Math.floor(t), VIRIDIS.length - 2), f = t - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
  }

  function hiDpi(canvas, w, h) {
    var dpr = (typeof window !== 'undefined' && window.devicePixelRatio) || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
      canvas.style.width = w + 'px'; canvas.style.height = h + 'px';
    }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return ctx;
  }

  function drawProfile(canvas, p, yMax) {
    var W = 300, H = 230, L = 50, R = 12, T = 12, B = 42, ctx = hiDpi(canvas, W, H);
    var k = p.length, r = (k - 1) / 2, i;
    var xs = function (d) { return L + (d + 3.5) / 7 * (W - L - R); };
    var ys = function (v) { return T + (1 - v / yMax) * (H - T - B); };
    ctx.font = '11px sans-serif'; ctx.fillStyle = '#333'; ctx.strokeStyle = '#ccc'; ctx.lineWidth = 1;
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (var v = 0; v <= yMax + 1e-9; v += 0.5) {
      ctx.beginPath(); ctx.moveTo(L, ys(v)); ctx.lineTo(W - R, ys(v)); ctx.stroke();
      ctx.fillText(v.toFixed(1), L - 4, ys(v));
    }
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (var d = -3; d <= 3; d++) { ctx.fillText(String(d), xs(d), H - B + 4); }
    ctx.fillText('tap offset from centre (taps)', (L + W - R) / 2, H - 16);
    ctx.save(); ctx.translate(12, (T + H - B) / 2); ctx.rotate(-Math.PI / 2);
    ctx.fillText('weight \u03a6 (centre = 1)', 0, -6); ctx.restore();
    ctx.strokeStyle = '#1f77b4'; ctx.fillStyle = '#1f77b4'; ctx.lineWidth = 2; ctx.beginPath();
    for (i = 0; i < k; i++) {
      if (i === 0) { ctx.moveTo(xs(i - r), ys(p[i])); } else { ctx.lineTo(xs(i - r), ys(p[i])); }
    }
    ctx.stroke();
    for (i = 0; i < k; i++) { ctx.beginPath(); ctx.arc(xs(i - r), ys(p[i]), 4, 0, 2 * Math.PI); ctx.fill(); }
  }

  function drawMask(canvas, p) {
    var W = 270, H = 230, size = 196, x0 = 8, y0 = 8, k = p.length, cell = size / k;
    var ctx = hiDpi(canvas, W, H), vmax = 0, i, j, v, c;
    for (i = 0; i < k; i++) { vmax = Math.max(vmax, p[i] * p[(k - 1) / 2] * p[i]); }
    vmax = Math.max(vmax, 1);
    ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
    ctx.font = (k <= 5 ? 12 : 10) + 'px sans-serif';
    for (i = 0; i < k; i++) {
      for (j = 0; j < k; j++) {
        v = p[i] * p[j]; c = viridis(v / vmax);
        ctx.fillStyle = 'rgb(' + c.map(Math.round).join(',') + ')';
        ctx.fillRect(x0 + j * cell, y0 + i * cell, cell + 0.5, cell + 0.5);
        ctx.fillStyle = v / vmax > 0.5 ? '#000' : '#fff';
        ctx.fillText(v.toFixed(2), x0 + (j + 0.5) * cell, y0 + (i + 0.5) * cell);
      }
    }
    // colour bar
    var bx = x0 + size + 14, bw = 12;
    for (i = 0; i < size; i++) {
      c = viridis(1 - i / size);
      ctx.fillStyle = 'rgb(' + c.map(Math.round).join(',') + ')';
      ctx.fillRect(bx, y0 + i, bw, 1.5);
    }
    ctx.fillStyle = '#333'; ctx.textAlign = 'left'; ctx.font = '11px sans-serif';
    ctx.fillText(vmax.toFixed(2), bx + bw + 3, y0 + 4);
    ctx.fillText('0', bx + bw + 3, y0 + size - 4);
    ctx.textAlign = 'center';
    ctx.fillText(k + '\u00d7' + k + ' mask \u03a6 (weight)', x0 + size / 2, y0 + size + 16);
  }

  function drawGray(canvas, values, w, h, scale, offset) {
    if (canvas.width !== w) { canvas.width = w; canvas.height = h; }
    var ctx = canvas.getContext('2d'), img = ctx.createImageData(w, h), d = img.data, i, v;
    for (i = 0; i < w * h; i++) {
      v = Math.round(values[i] * scale + offset); v = v < 0 ? 0 : (v > 255 ? 255 : v);
      d[4 * i] = v; d[4 * i + 1] = v; d[4 * i + 2] = v; d[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  // ---------------------------------------------------------------- the live view
  function mount(config) {
    var rootEl = document.getElementById(config.id);
    if (!rootEl || rootEl.__wconvMounted) { return; }
    rootEl.__wconvMounted = true;
    var pixels = decode(config.image), w = config.width, h = config.height;
    var state = { size: config.kernel_size, den: config.den.slice() };
    var canvases = {
      profile: rootEl.querySelector('.wconv-de-profile'),
      mask: rootEl.querySelector('.wconv-de-mask'),
      filtered: rootEl.querySelector('.wconv-de-filtered'),
      detail: rootEl.querySelector('.wconv-de-detail')
    };
    var readoutEl = rootEl.querySelector('.wconv-de-text');
    var timingEl = rootEl.querySelector('.wconv-de-timing');
    var pending = false, redraws = 0;

    function currentDen() { return state.den.slice(0, (state.size - 1) / 2); }

    function redraw() {
      pending = false;
      var t0 = performance.now(), den = currentDen(), p = profile(den);
      drawProfile(canvases.profile, p, config.y_max);
      drawMask(canvases.mask, p);
      var out = filter(pixels, w, h, den);
      drawGray(canvases.filtered, out, w, h, 1, 0);
      var detail = new Float64Array(w * h);
      for (var i = 0; i < w * h; i++) { detail[i] = pixels[i] - out[i]; }
      drawGray(canvases.detail, detail, w, h, config.detail_gain, 128);
      var text = readoutText(den);
      readoutEl.textContent = text;
      // the readout widget beside the sliders (Python writes the same text when a kernel runs)
      var widgetText = document.querySelector('.' + config.uid + '-readout .widget-html-content');
      if (widgetText && widgetText.textContent !== text) { widgetText.textContent = text; }
      // show the view's own line only where the readout widget is missing (no widget manager)
      readoutEl.style.display = widgetText ? 'none' : '';
      for (var j = 0; j < 3; j++) {
        var box = document.querySelector('.' + config.uid + '-den' + j);
        if (box) { box.classList.toggle('wconv-de-unused', j >= den.length); }
      }
      var ms = performance.now() - t0;
      redraws += 1;
      rootEl.dataset.redrawMs = ms.toFixed(2);
      rootEl.dataset.redraws = String(redraws);
      rootEl.dataset.den = JSON.stringify(den);
      timingEl.textContent = 'redrawn in the browser in ' + ms.toFixed(1) + ' ms';
    }

    function schedule() {
      if (!pending) { pending = true; window.requestAnimationFrame(redraw); }
    }

    function attach(role, apply) {
      var box = document.querySelector('.' + config.uid + '-' + role);
      var target = box && box.querySelector('.noUi-target');
      if (!target || !target.noUiSlider || target.__wconvSlider === target.noUiSlider) { return false; }
      target.__wconvSlider = target.noUiSlider;
      target.noUiSlider.on('update.wconv', function (values) {
        var v = parseFloat(String(values[0]));
        if (isFinite(v)) { apply(v); schedule(); }
      });
      return true;
    }

    var attached = 0;
    function scan() {
      if (attach('size', function (v) { state.size = Math.round(v); })) { attached += 1; }
      for (var j = 0; j < 3; j++) {
        (function (j) {
          if (attach('den' + j, function (v) { state.den[j] = v; })) { attached += 1; }
        }(j));
      }
      rootEl.dataset.attached = String(attached);
    }

    redraw();
    scan();
    // The sliders may be rendered after this view (html-manager renders the saved widget state
    // once the page has loaded; Jupyter may re-create them): keep looking for new instances.
    var queued = false;
    var observer = new MutationObserver(function () {
      if (!document.body.contains(rootEl)) { observer.disconnect(); return; }  // output cleared
      if (!queued) { queued = true; setTimeout(function () { queued = false; scan(); }, 50); }
    });
    observer.observe(document.body, { childList: true, subtree: true });
  }

  return {
    profile: profile, kernel1d: kernel1d, filter: filter, readoutText: readoutText,
    decode: decode, mount: mount
  };
})
