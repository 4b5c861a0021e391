/* Denoiser panel: the browser side of wconv.denoiser_panel.
 *
 * Pick a test image and a pair of models (standard vs weighted), slide the noise level σ, and
 * see the clean crop, the noisy one and both models' outputs, each with its PSNR, all computed
 * in the page: the models are ONNX files run by ONNX Runtime Web (WebAssembly), served by the
 * book itself (never a CDN).
 *
 * - Noise: z is a fixed standard-normal field per image (seed from Python), drawn by
 *   mulberry32 + Box–Muller; noisy = clean + σ/255 · z, float32, not clipped (the book's noise
 *   model; clipped only for display and for the noisy image's PSNR). wconv.denoiser_panel.normal
 *   draws the same numbers in numpy, so Python computes the same noisy image and PSNR.
 * - PSNR: of the output clipped to [0, 1] against the clean image (u8 / 255), over every pixel
 *   and channel, in float64: 10 log10(1 / MSE), as wconv.metrics.psnr.
 * - Threads: a static host cannot send the headers for cross-origin isolation, so there is no
 *   SharedArrayBuffer and ONNX Runtime's wasm runs single-threaded (numThreads = 1; more only
 *   where the page is cross-origin isolated). The two models run at the same time in two Web
 *   Workers instead (one per model, each with its own single-threaded runtime), which uses two
 *   cores without isolation and keeps the page responsive.
 * - Updates: the noisy image is redrawn at once while the slider moves; inference is debounced
 *   and coalesced (one run at a time, then the latest σ); outputs are cached per
 *   (image, pair, σ). Each model file is loaded once per worker.
 *
 * The arithmetic (normal, noisy, psnr) is exported for Node too.
 */
(function () {
  'use strict';

  var TWO_PI = 2 * Math.PI, TWO_32 = 4294967296;

  /** `count` standard normal numbers (Float64Array): mulberry32(seed) uniforms u in [0, 1),
   *  taken in pairs (u1, u2): r = sqrt(-2 ln(1 - u1)), z = r cos(2π u2), r sin(2π u2). */
  function normal(seed, count) {
    var out = new Float64Array(count), a = seed >>> 0, i, t, u1, u2, r;
    function next() {
      a = (a + 0x6D2B79F5) >>> 0;
      t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / TWO_32;
    }
    for (i = 0; i < count; i += 2) {
      u1 = next(); u2 = next();
      r = Math.sqrt(-2 * Math.log(1 - u1));
      out[i] = r * Math.cos(TWO_PI * u2);
      if (i + 1 < count) { out[i + 1] = r * Math.sin(TWO_PI * u2); }
    }
    return out;
  }

  /** clean (u8, CHW) + σ/255 · z, as float32, not clipped. */
  function noisy(clean, z, sigma) {
    var out = new Float32Array(clean.length), s = sigma / 255, i;
    for (i = 0; i < clean.length; i++) { out[i] = clean[i] / 255 + s * z[i]; }
    return out;
  }

  /** PSNR (dB) of `values` clipped to [0, 1] against clean (u8 / 255). */
  function psnr(values, clean) {
    var se = 0, i, v, d;
    for (i = 0; i < clean.length; i++) {
      v = values[i]; v = v < 0 ? 0 : (v > 1 ? 1 : v);
      d = v - clean[i] / 255; se += d * d;
    }
    return 10 * Math.log10(clean.length / se);
  }

  /** CHW float values in [0, 1] (clipped) to an RGBA ImageData-sized Uint8ClampedArray. */
  function toRGBA(values, c, h, w) {
    var n = h * w, out = new Uint8ClampedArray(4 * n), i, k, v;
    for (i = 0; i < n; i++) {
      for (k = 0; k < 3; k++) {
        v = values[(c === 3 ? k : 0) * n + i];
        out[4 * i + k] = Math.round((v < 0 ? 0 : (v > 1 ? 1 : v)) * 255);
      }
      out[4 * i + 3] = 255;
    }
    return out;
  }

  // ------------------------------------------------------------------ the worker
  /* Runs in a Web Worker (its source is this function's text): loads ONNX Runtime Web once,
   * keeps one InferenceSession per model URL, and runs them. */
  function workerMain() {
    var sessions = {}, ready = null;
    function init(m) {
      if (!ready) {
        ready = new Promise(function (resolve) {
          importScripts(m.ort);
          var env = self.ort.env.wasm;
          env.wasmPaths = m.wasmPaths;
          env.numThreads = m.threads || 1;
          env.proxy = false;
          resolve();
        });
      }
      return ready;
    }
    function session(url) {
      if (!sessions[url]) {
        var t0 = performance.now();
        sessions[url] = self.ort.InferenceSession.create(url, {
          executionProviders: ['wasm'], graphOptimizationLevel: 'all'
        }).then(function (s) { s.loadMs = performance.now() - t0; return s; });
      }
      return sessions[url];
    }
    self.onmessage = function (e) {
      var m = e.data;
      init(m).then(function () { return session(m.model); }).then(function (s) {
        if (m.type === 'load') { self.postMessage({ id: m.id, ok: true, loadMs: s.loadMs }); return; }
        var feeds = {};
        feeds[s.inputNames[0]] = new self.ort.Tensor('float32', m.data, m.dims);
        var t0 = performance.now();
        return s.run(feeds).then(function (out) {
          var y = out[s.outputNames[0]].data;
          self.postMessage({ id: m.id, ok: true, data: y, ms: performance.now() - t0 }, [y.buffer]);
        });
      }).catch(function (err) {
        self.postMessage({ id: m.id, ok: false, error: String((err && err.message) || err) });
      });
    };
  }

  function startWorker(settings) {
    var src = '(' + workerMain.toString() + ')();';
    var worker = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
    var n = 0, pending = {};
    worker.onmessage = function (e) {
      var p = pending[e.data.id]; delete pending[e.data.id];
      if (e.data.ok) { p.resolve(e.data); } else { p.reject(new Error(e.data.error)); }
    };
    worker.onerror = function (e) {
      var err = new Error('worker: ' + (e.message || 'failed to start'));
      Object.keys(pending).forEach(function (k) { pending[k].reject(err); delete pending[k]; });
    };
    return function call(msg, transfer) {
      return new Promise(function (resolve, reject) {
        n += 1; msg.id = n; pending[n] = { resolve: resolve, reject: reject };
        msg.ort = settings.ort; msg.wasmPaths = settings.wasmPaths; msg.threads = settings.threads;
        worker.postMessage(msg, transfer || []);
      });
    };
  }

  // ------------------------------------------------------------------ the page
  function staticBase(config) {
    if (config.static_url) { return new URL(config.static_url, document.baseURI).href; }
    // Sphinx (>= 7.2) writes the relative path to the site root on <html data-content_root>
    var rootPath = document.documentElement.getAttribute('data-content_root');
    return new URL((rootPath === null ? '' : rootPath) + '_static/', document.baseURI).href;
  }

  function loadImage(url) {
    return fetch(url).then(function (r) {
      if (!r.ok) { throw new Error(url + ': HTTP ' + r.status); }
      return r.blob();
    }).then(function (blob) {
      return createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    }).then(function (bitmap) {
      var c = document.createElement('canvas'); c.width = bitmap.width; c.height = bitmap.height;
      var ctx = c.getContext('2d'); ctx.drawImage(bitmap, 0, 0);
      var d = ctx.getImageData(0, 0, c.width, c.height).data, n = c.width * c.height;
      var out = new Uint8Array(3 * n), i;
      for (i = 0; i < n; i++) {
        out[i] = d[4 * i]; out[n + i] = d[4 * i + 1]; out[2 * n + i] = d[4 * i + 2];
      }
      return { pixels: out, width: c.width, height: c.height };
    });
  }

  function mount(config) {
    var el = document.getElementById(config.id);
    if (!el || el.__wconvMounted) { return; }
    el.__wconvMounted = true;
    var q = function (sel) { return el.querySelector(sel); };
    var base = staticBase(config);
    var files = new URL(config.folder, base).href;
    var ortBase = new URL(config.ort_folder, base).href;
    var threads = (typeof crossOriginIsolated !== 'undefined' && crossOriginIsolated)
      ? Math.max(1, Math.min(4, Math.floor((navigator.hardwareConcurrency || 2) / 2))) : 1;
    var settings = { ort: ortBase + 'ort.wasm.min.js', wasmPaths: ortBase, threads: threads };
    var imageSel = q('.wconv-dn-image'), pairSel = q('.wconv-dn-pair'), slider = q('.wconv-dn-sigma');
    var status = q('.wconv-dn-status');
    var canvases = { clean: q('.wconv-dn-clean'), noisy: q('.wconv-dn-noisy'),
      standard: q('.wconv-dn-standard'), weighted: q('.wconv-dn-weighted') };
    var images = {}, cache = new Map(), workers = null, busy = false, again = false, timer = null;
    var updates = 0, times = [], state = { sigma: +slider.value };

    config.images.forEach(function (im, i) { imageSel.add(new Option(im.label, String(i))); });
    config.pairs.forEach(function (p, i) { pairSel.add(new Option(p.label, String(i))); });
    imageSel.value = String(config.image || 0); pairSel.value = String(config.pair || 0);

    function setState(s, message) {
      el.dataset.state = s;
      if (message !== undefined) { status.textContent = message; }
    }
    function fail(err) {
      el.dataset.error = String((err && err.message) || err);
      setState('error', 'The models could not run in this browser: ' + el.dataset.error +
        ' (the panel needs the book\u2019s static files; with a live Jupyter kernel, use ' +
        'wconv.denoiser_panel.live_panel instead)');
    }
    function draw(canvas, rgba, w, h) {
      if (canvas.width !== w) { canvas.width = w; canvas.height = h; }
      canvas.getContext('2d').putImageData(new ImageData(rgba, w, h), 0, 0);
    }
    function text(role, value) { q('.wconv-dn-psnr-' + role).textContent = value; }
    function getImage(i) {
      if (!images[i]) {
        var spec = config.images[i];
        images[i] = loadImage(new URL(spec.file, files).href).then(function (im) {
          im.z = normal(spec.seed, im.pixels.length);
          im.rgba = toRGBA(Float64Array.from(im.pixels, function (v) { return v / 255; }),
            3, im.height, im.width);
          return im;
        });
      }
      return images[i];
    }
    function modelUrls(p) {
      var pair = config.pairs[p];
      return [new URL(pair.standard.file, files).href, new URL(pair.weighted.file, files).href];
    }
    function captions(p) {
      var pair = config.pairs[p];
      q('.wconv-dn-name-standard').textContent = pair.standard.caption;
      q('.wconv-dn-name-weighted').textContent = pair.weighted.caption;
    }

    function showNoisy() {
      var i = +imageSel.value, sigma = +slider.value;
      q('.wconv-dn-sigma-value').textContent = String(sigma);
      q('.wconv-dn-sigma-caption').textContent = String(sigma);
      return getImage(i).then(function (im) {
        if (+imageSel.value !== i || +slider.value !== sigma) { return im; }
        var x = noisy(im.pixels, im.z, sigma);
        draw(canvases.clean, im.rgba, im.width, im.height);
        draw(canvases.noisy, toRGBA(x, 3, im.height, im.width), im.width, im.height);
        text('noisy', psnr(x, im.pixels).toFixed(2) + ' dB');
        return im;
      });
    }

    function update() {
      if (busy) { again = true; return; }
      busy = true; again = false;
      var i = +imageSel.value, p = +pairSel.value, sigma = +slider.value;
      var key = i + '|' + p + '|' + sigma, t0 = performance.now();
      captions(p);
      getImage(i).then(function (im) {
        var x = noisy(im.pixels, im.z, sigma), hit = cache.get(key);
        var noisyPsnr = psnr(x, im.pixels);
        if (hit) { return { im: im, r: hit, noisyPsnr: noisyPsnr, cached: true }; }
        var urls = modelUrls(p), dims = [1, 3, im.height, im.width];
        setState('running', 'denoising (σ = ' + sigma + ') …');
        return Promise.all([
          workers[0]({ type: 'run', model: urls[0], data: x.slice(), dims: dims }),
          workers[1]({ type: 'run', model: urls[1], data: x, dims: dims })
        ]).then(function (out) {
          var r = out.map(function (o) {
            return { rgba: toRGBA(o.data, 3, im.height, im.width), psnr: psnr(o.data, im.pixels), ms: o.ms };
          });
          cache.set(key, r);
          if (cache.size > 48) { cache.delete(cache.keys().next().value); }
          return { im: im, r: r, noisyPsnr: noisyPsnr, cached: false };
        });
      }).then(function (res) {
        var im = res.im, r = res.r, ms = performance.now() - t0;
        draw(canvases.standard, r[0].rgba, im.width, im.height);
        draw(canvases.weighted, r[1].rgba, im.width, im.height);
        text('standard', r[0].psnr.toFixed(2) + ' dB');
        text('weighted', r[1].psnr.toFixed(2) + ' dB');
        updates += 1;
        if (!res.cached) { times.push(ms); if (times.length > 50) { times.shift(); } }
        el.dataset.updates = String(updates);
        el.dataset.key = JSON.stringify({ image: i, pair: p, sigma: sigma });
        el.dataset.psnr = JSON.stringify({ noisy: res.noisyPsnr, standard: r[0].psnr, weighted: r[1].psnr });
        el.dataset.times = JSON.stringify(times);
        el.dataset.modelMs = JSON.stringify([r[0].ms, r[1].ms]);
        setState('ready', (res.cached ? 'shown from this page\u2019s cache' :
          'denoised in this browser in ' + ms.toFixed(0) + ' ms (standard ' + r[0].ms.toFixed(0) +
          ' ms and weighted ' + r[1].ms.toFixed(0) + ' ms, side by side in two workers, ' +
          'WebAssembly, ' + threads + ' thread' + (threads > 1 ? 's' : '') + ' each)'));
      }).catch(fail).then(function () {
        busy = false;
        if (again) { update(); }
      });
    }

    function schedule(delay) {
      clearTimeout(timer);
      timer = setTimeout(update, delay);
    }

    slider.addEventListener('input', function () {
      showNoisy().catch(fail);
      schedule(config.debounce_ms);
    });
    imageSel.addEventListener('change', function () { showNoisy().catch(fail); schedule(0); });
    pairSel.addEventListener('change', function () { schedule(0); });

    try {
      workers = [startWorker(settings), startWorker(settings)];
    } catch (err) { fail(err); return; }
    setState('loading', 'loading ONNX Runtime Web and the models …');
    showNoisy().catch(fail);
    var urls = modelUrls(+pairSel.value), t0 = performance.now();
    Promise.all([workers[0]({ type: 'load', model: urls[0] }), workers[1]({ type: 'load', model: urls[1] })])
      .then(function () {
        el.dataset.loadMs = String(performance.now() - t0);
        update();
      }).catch(fail);
  }

  return { normal: normal, noisy: noisy, psnr: psnr, toRGBA: toRGBA, mount: mount };
})
