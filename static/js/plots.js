/* Draw the plotly figures whose JSON the server embedded (json_script) into [data-figure] divs.
   Figures are built server-side by pure Python functions; this only renders them. */
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("figure-data");
    if (!holder || !window.Plotly) return;
    var figures = JSON.parse(holder.textContent);
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var fig = figures[el.dataset.figure];
      if (!fig) return;
      var layout = Object.assign({}, fig.layout || {});
      // Python-side template names mean nothing to plotly.js; use its plain defaults.
      if (typeof layout.template === "string") delete layout.template;
      layout.autosize = true;
      layout.height = layout.height || (el.closest(".wide") ? 300 : 320);
      layout.font = Object.assign({size: 12}, layout.font || {});
      window.Plotly.newPlot(el, fig.data || [], layout, {responsive: true, displaylogo: false,
        modeBarButtonsToRemove: ["lasso2d", "select2d"]});
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
