/* Candidate page: keyboard shortcuts, time spent on the page, "saved" notice, session counter.
   1-6 choose a class (vocabulary order), Enter saves (or says to choose a class first), j next,
   k previous, s skip, n note, d dispute, Esc leaves a text field. */
(function () {
  "use strict";
  var form = document.getElementById("label-form");
  if (!form) return;
  var visibleMs = 0, since = document.hidden ? null : performance.now();

  // Time spent counts only while the page is visible (a background tab is not vetting).
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && since !== null) { visibleMs += performance.now() - since; since = null; }
    else if (!document.hidden && since === null) { since = performance.now(); }
  });
  function secondsSpent() {
    return (visibleMs + (since === null ? 0 : performance.now() - since)) / 1000;
  }
  form.addEventListener("submit", function () {
    document.getElementById("id_seconds_spent").value = secondsSpent().toFixed(1);
    var button = document.getElementById("label-submit");
    button.disabled = true;  // one label per press, even with a bouncing key
    button.textContent = "Saving…";
  });

  var hint = document.getElementById("class-hint");
  function showHint() {
    if (!hint) return;
    hint.hidden = false;
    hint.classList.remove("flash");
    void hint.offsetWidth;  // restart the highlight animation on a repeated press
    hint.classList.add("flash");
  }
  form.addEventListener("change", function (e) {
    if (hint && e.target.name === "label_class") hint.hidden = true;
  });
  // A click on "Save" with no class: the browser's own bubble is easy to miss; say it here too.
  form.addEventListener("invalid", function (e) { if (e.target.name === "label_class") showHint(); }, true);

  // "Saved PC for K00752.01" notice passed in the URL fragment by the label view.
  var m = /^#saved=([A-Z]+):(\d+):(.+)$/.exec(decodeURIComponent(location.hash));
  // This page may have been prefetched before that label was saved: count it if the server had not.
  var counter = document.getElementById("session-count");
  if (m && counter && counter.dataset.last !== m[2]) {
    counter.querySelector("strong").textContent = String(Number(counter.dataset.count) + 1);
  }
  if (m) {
    var notice = document.getElementById("notice");
    var p = document.createElement("p");
    p.className = "msg success";
    p.appendChild(document.createTextNode("Saved " + m[1] + " for " + m[3] + ". "));
    var a = document.createElement("a");
    a.href = "/candidates/" + m[2] + "/";
    a.textContent = "Change it (k)";
    p.appendChild(a);
    notice.appendChild(p);
    history.replaceState(null, "", location.pathname + location.search);
  }

  function typing(el) {
    return el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
      (el.tagName === "INPUT" && !/^(radio|checkbox|submit|button)$/.test(el.type)));
  }
  function go(id) { var el = document.getElementById(id); if (el) location.href = el.href; }

  // Prefetch the next candidate once this page has loaded and the browser is idle (the label
  // view's redirect then shows it at once); earlier, its rendering would compete with this page's.
  window.addEventListener("load", function () {
    var next = document.getElementById("nav-next");
    if (!next) return;
    (window.requestIdleCallback || setTimeout)(function () {
      var link = document.createElement("link");
      link.rel = "prefetch";
      link.href = next.href;
      document.head.appendChild(link);
    });
  });

  // For bench/bench_candidate_page.py: when the keyboard started to work (ms since navigation start).
  document.documentElement.dataset.vetReady = performance.now().toFixed(0);

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape" && typing(document.activeElement)) { document.activeElement.blur(); return; }
    if (typing(document.activeElement)) return;
    var radios = form.querySelectorAll('input[name="label_class"]');
    if (/^[1-9]$/.test(e.key) && Number(e.key) <= radios.length) {
      var radio = radios[Number(e.key) - 1];
      radio.checked = true;
      radio.focus();
      e.preventDefault();
    } else if (e.key === "Enter") {
      // a focused link, button or summary does what Enter does to it (a label button click
      // without a class fires "invalid", which shows the hint)
      if (document.activeElement && /^(A|BUTTON|SUMMARY)$/.test(document.activeElement.tagName)) return;
      e.preventDefault();
      if (form.querySelector('input[name="label_class"]:checked')) form.requestSubmit(); else showHint();
    } else if (e.key === "j") { go("nav-next"); }
    else if (e.key === "k") { go("nav-previous"); }
    else if (e.key === "s") { document.getElementById("skip-form").requestSubmit(); }
    else if (e.key === "n") { e.preventDefault(); document.getElementById("id_note").focus(); }
    else if (e.key === "d") {
      var d = document.getElementById("dispute-details");
      if (d) { e.preventDefault(); d.open = true; document.getElementById("id_reason").focus(); }
    }
  });
})();
