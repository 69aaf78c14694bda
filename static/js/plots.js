/* Draw the plotly figures whose JSON the server embedded (json_script) into [data-figure] divs.
   Figures are built server-side by pure Python functions; this only renders them.
   The figures on the first screen are drawn one per task (a key press, a label, is handled
   between two of them); the rest when scrolled near. When the first screen is drawn,
   <html data-plots-drawn> holds the time (ms since navigation start) for
   bench/bench_candidate_page.py. */
(function () {
  "use strict";
  // Run fn once no key press or click waits for the main thread (Chromium tells: isInputPending),
  // so a label key pressed while the figures are drawn is handled before the next figure.
  function afterInput(fn) {
    var s = navigator.scheduling;
    if (s && s.isInputPending && s.isInputPending()) { setTimeout(function () { afterInput(fn); }, 0); return; }
    fn();
  }
  // Run fn in a task after the next frame is painted (requestAnimationFrame runs just before it).
  function afterFrame(fn) {
    if (!window.requestAnimationFrame || document.hidden) { setTimeout(fn, 0); return; }
    window.requestAnimationFrame(function () { setTimeout(fn, 0); });
  }
  function layoutFor(el, fig) {
    var layout = Object.assign({}, fig.layout || {});
    // Python-side template names mean nothing to plotly.js; use its plain defaults.
    if (typeof layout.template === "string") delete layout.template;
    layout.autosize = true;
    layout.height = layout.height || (el.closest(".wide") ? 320 : 340);
    layout.font = Object.assign({size: 12}, layout.font || {});
    if (layout.title) layout.title = Object.assign({}, layout.title, {font: {size: 13}});
    // Horizontal legends sit below the x-axis title, not on top of it.
    if (layout.legend && layout.legend.orientation === "h") {
      layout.legend = Object.assign({}, layout.legend, {y: -0.32, yanchor: "top"});
      layout.margin = Object.assign({}, layout.margin || {}, {b: 90});
    }
    return layout;
  }
  function draw() {
    var holder = document.getElementById("figure-data");
    if (!holder || !window.Plotly) return;
    var figures = JSON.parse(holder.textContent);
    var all = Array.prototype.slice.call(document.querySelectorAll("[data-figure]"));
    function onScreen(el) { return el.getBoundingClientRect().top < window.innerHeight + 200; }
    // The figures on the first screen now, one per task; the others when scrolled near (or,
    // without IntersectionObserver, right after), so the first second's CPU goes to what is seen.
    var first = all.filter(onScreen), later = all.filter(function (el) { return !onScreen(el); });
    function plot(el) {
      var fig = figures[el.dataset.figure];
      if (!fig || el.dataset.drawn) return;
      el.dataset.drawn = "1";
      window.Plotly.newPlot(el, fig.data || [], layoutFor(el, fig), {responsive: true, displaylogo: false,
        modeBarButtonsToRemove: ["lasso2d", "select2d"]});
    }
    function drawLater() {
      if (!("IntersectionObserver" in window)) { later.forEach(plot); return; }
      var observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.isIntersecting) { observer.unobserve(entry.target); plot(entry.target); }
        });
      }, {rootMargin: "300px"});
      later.forEach(function (el) { observer.observe(el); });
    }
    function next() {
      var el = first.shift();
      if (!el) {
        document.documentElement.dataset.plotsDrawn = performance.now().toFixed(0);
        drawLater();
        return;
      }
      plot(el);
      // Let the browser paint before the next figure: a key pressed meanwhile shows its
      // effect (the class chosen) in that frame, not after every figure of the first screen.
      afterFrame(function () { afterInput(next); });
    }
    next();
  }
  // A page may name the plotly.js bundle on this script (data-plotly) instead of loading it first:
  // then it is fetched early (<link rel=preload>) but run only when the main thread is first idle
  // (at most 200 ms later), so the label keys (vet.js) answer before the 1.2 MB bundle compiles.
  var bundle = document.currentScript && document.currentScript.dataset.plotly;
  function start() {
    if (window.Plotly || !bundle) { draw(); return; }
    var idle = window.requestIdleCallback || function (f) { return setTimeout(f, 0); };
    idle(function () { afterFrame(function () { afterInput(function () {
      var script = document.createElement("script");
      script.src = bundle;
      script.onload = function () { afterFrame(draw); };
      document.head.appendChild(script);
    }); }); }, {timeout: 200});
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
