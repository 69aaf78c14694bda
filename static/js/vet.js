/* Candidate page: keyboard shortcuts, time spent on the page, "saved" notice.
   1-6 choose a class (vocabulary order), Enter saves, j next, k previous, s skip,
   n note, d dispute, Esc leaves a text field. */
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

  // "Saved PC for K00752.01" notice passed in the URL fragment by the label view.
  var m = /^#saved=([A-Z]+):(\d+):(.+)$/.exec(decodeURIComponent(location.hash));
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
      if (document.activeElement && document.activeElement.tagName === "A") return;  // follow the link
      if (form.querySelector('input[name="label_class"]:checked')) { e.preventDefault(); form.requestSubmit(); }
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
