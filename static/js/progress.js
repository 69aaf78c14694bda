/* Progress bars for long jobs: every [data-progress-url] element polls its JSON endpoint
   ({state, progress 0..1, message, done, sent}) until the job is finished or failed.
   sent === false: the job was accepted while the broker was unreachable and waits to be re-sent;
   the box says so (the message) and is marked data-sent="false" instead of showing 0 %. */
(function () {
  "use strict";
  var INTERVAL_MS = 1500;
  function poll(el) {
    var bar = el.querySelector("progress");
    var text = el.querySelector(".progress-text");
    fetch(el.dataset.progressUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (body) {
        var unsent = body.sent === false;
        if (bar) bar.value = body.progress;
        if (text) {
          text.textContent = unsent ? "Not sent yet: " + body.message
            : (body.message || body.state) + " (" + Math.round(body.progress * 100) + "%)";
          text.classList.toggle("tag", unsent);
          text.classList.toggle("warn", unsent);
        }
        el.dataset.state = body.state;
        el.dataset.sent = unsent ? "false" : "true";
        if (!body.done) setTimeout(function () { poll(el); }, INTERVAL_MS);
      })
      .catch(function (err) {
        if (text) text.textContent = "progress unavailable (" + err.message + "), retrying";
        setTimeout(function () { poll(el); }, INTERVAL_MS * 4);
      });
  }
  function start() { document.querySelectorAll("[data-progress-url]").forEach(poll); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
