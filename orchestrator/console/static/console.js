// golinkis console: the few things a script adds to pages that work
// without it - a running job's page follows its status, progress and log;
// kill buttons ask first. Text is inserted with textContent only.
"use strict";
(function () {
  document.querySelectorAll("form.confirm").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm || "Sure?")) { e.preventDefault(); }
    });
  });
  var job = document.getElementById("job");
  if (!job || job.dataset.final === "true" || job.dataset.follow !== "1") { return; }
  var log = document.getElementById("log");
  var state = document.getElementById("state");
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  var info = document.getElementById("progress-info");
  var next = parseInt(job.dataset.next, 10) || 0;
  var delay = 400;
  function poll() {
    fetch("/jobs/" + encodeURIComponent(job.dataset.task) + "/follow?from=" + next, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json().then(function (d) { return { status: r.status, d: d }; }); })
      .then(function (a) {
        var d = a.d;
        if (a.status === 401 && d.login) { window.location.assign(d.login); return; }
        if (a.status !== 200) { delay = Math.min(delay * 2, 5000); setTimeout(poll, delay); return; }
        delay = 400;
        var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        d.lines.forEach(function (l) {
          var s = document.createElement("span");
          s.className = "line";
          s.textContent = l;
          log.appendChild(s);
          log.appendChild(document.createTextNode("\n"));
        });
        if (atBottom) { log.scrollTop = log.scrollHeight; }
        next = d.next;
        state.textContent = d.state;
        state.className = "state s-" + d.state;
        bar.value = d.progress;
        text.textContent = d.progress + "%";
        info.textContent = d.progressInfo || "";
        if (d.final) { window.location.reload(); return; }
        setTimeout(poll, delay);
      })
      .catch(function () { delay = Math.min(delay * 2, 5000); setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
