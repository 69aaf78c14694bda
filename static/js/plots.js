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
      layout.height = layout.height || (el.closest(".wide") ? 320 : 340);
      layout.font = Object.assign({size: 12}, layout.font || {});
      if (layout.title) layout.title = Object.assign({}, layout.title, {font: {size: 13}});
      // Horizontal legends sit below the x-axis title, not on top of it.
      if (layout.legend && layout.legend.orientation === "h") {
        layout.legend = Object.assign({}, layout.legend, {y: -0.32, yanchor: "top"});
        layout.margin = Object.assign({}, layout.margin || {}, {b: 90});
      }
      window.Plotly.newPlot(el, fig.data || [], layout, {responsive: true, displaylogo: false,
        modeBarButtonsToRemove: ["lasso2d", "select2d"]});
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
