/* Call page: click a turn to seek, highlight the turn being played, and while the call
   is processed stream status and transcript segments from GET /api/calls/{id}/events
   (server-sent events). When it finishes, the page body is swapped for the finished one
   (htmx), without a reload. Grouping matches calls/views.py group_turns. */
(function () {
  "use strict";
  var GROUP_WINDOW_MS = 60000;
  var TERMINAL = { completed: 1, failed: 1, waiting: 1 };

  function page() { return document.getElementById("call-page"); }
  function player() { return document.getElementById("player"); }

  /* the one clock format (kit/timefmt.py format_offset_ms): mm:ss, h:mm:ss from an
     hour on, whole seconds cut off */
  function ts(ms) {
    var total = Math.max(0, Math.floor((ms || 0) / 1000));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
  }

  /* -- seeking and highlighting -------------------------------------------------------- */

  document.addEventListener("click", function (event) {
    if (event.target.closest(".turn-similar")) return;  /* similar.js opens the list */
    var turn = event.target.closest(".turn[data-start]");
    var audio = player();
    if (!turn || !audio) return;
    audio.currentTime = Number(turn.dataset.start) / 1000 + 0.01;
    var played = audio.play();
    if (played && played.catch) played.catch(function () { /* autoplay refused */ });
  });

  var current = null;
  document.addEventListener("timeupdate", function (event) {
    if (event.target.id !== "player") return;
    var ms = event.target.currentTime * 1000;
    var found = null;
    var turns = document.querySelectorAll("#transcript .turn[data-start]");
    for (var i = 0; i < turns.length; i++) {
      var start = Number(turns[i].dataset.start), end = Number(turns[i].dataset.end);
      if (ms >= start && ms < Math.max(end, start + 300)) { found = turns[i]; }
    }
    if (found === current) return;
    if (current) current.classList.remove("current");
    current = found;
    if (found) {
      found.classList.add("current");
      if (!event.target.paused) {
        var box = document.getElementById("transcript");
        var top = found.offsetTop - box.offsetTop;
        if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - 40) {
          box.scrollTop = Math.max(0, top - box.clientHeight / 3);
        }
      }
    }
  }, true);

  /* -- live transcript ----------------------------------------------------------------- */

  function turnsFromDom() {
    return Array.prototype.map.call(document.querySelectorAll("#transcript .turn[data-seq]"), function (el) {
      return {
        seq: Number(el.dataset.seq),
        start_ms: Number(el.dataset.start),
        end_ms: Number(el.dataset.end),
        role: el.dataset.role,
        speaker: el.dataset.speaker || null,
        text: el.querySelector(".x").textContent
      };
    });
  }

  function label(turn, box) {
    if (turn.speaker) return turn.speaker;
    if (turn.role === "agent") return box.dataset.agentName || "Agent";
    if (turn.role === "customer") return box.dataset.customerName || "Customer";
    if (turn.role === "bot") return "Bot";
    return "Speaker";
  }

  function renderTranscript(turns) {
    var box = document.getElementById("transcript");
    if (!box) return;
    turns.sort(function (a, b) { return a.start_ms - b.start_ms || a.seq - b.seq; });
    var groups = [];
    turns.forEach(function (t) {
      var name = label(t, box);
      var last = groups[groups.length - 1];
      if (last && last.role === t.role && last.label === name && t.start_ms - last.start_ms < GROUP_WINDOW_MS) {
        last.turns.push(t);
        last.end_ms = Math.max(last.end_ms, t.end_ms);
        return;
      }
      var g = { role: t.role, label: name, start_ms: t.start_ms, end_ms: t.end_ms, turns: [t], response_ms: null };
      if (box.dataset.timesReal === "true" && last && last.role !== t.role && t.role !== "unknown") g.response_ms = t.start_ms - last.end_ms;
      groups.push(g);
    });
    var atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 30;
    var frag = document.createDocumentFragment();
    groups.forEach(function (g) {
      var div = document.createElement("div");
      div.className = "turn-group role-" + g.role;
      div.dataset.role = g.role;
      var who = document.createElement("div");
      who.className = "who";
      var strong = document.createElement("strong");
      strong.textContent = g.label;
      var at = document.createElement("span");
      at.className = "muted";
      at.textContent = ts(g.start_ms);
      who.appendChild(strong);
      who.appendChild(at);
      if (g.response_ms !== null) {
        var resp = document.createElement("span");
        resp.className = "resp";
        resp.title = "Time from the other party's last words";
        resp.textContent = g.response_ms >= 0
          ? "responded in " + (g.response_ms / 1000).toFixed(1) + " s"
          : "spoke over (" + (-g.response_ms / 1000).toFixed(1) + " s)";
        who.appendChild(resp);
      }
      div.appendChild(who);
      g.turns.forEach(function (t) {
        var row = document.createElement("div");
        row.className = "turn";
        row.dataset.start = t.start_ms;
        row.dataset.end = t.end_ms;
        row.dataset.seq = t.seq;
        row.dataset.role = t.role;
        row.dataset.speaker = t.speaker || "";
        var time = document.createElement("span");
        time.className = "t";
        time.textContent = ts(t.start_ms);
        var text = document.createElement("span");
        text.className = "x";
        text.textContent = t.text;
        row.appendChild(time);
        row.appendChild(text);
        div.appendChild(row);
      });
      frag.appendChild(div);
    });
    box.innerHTML = "";
    box.appendChild(frag);
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function statusBadge(s) {
    var pct = Math.round((s.progress || 0) * 100);
    var text = { received: "Received", transcribing: "Transcribing " + pct + "%", analyzing: "Analyzing",
                 completed: "Completed", failed: "Failed", waiting: "Waiting" }[s.status] || s.status;
    var wrap = document.createElement("span");
    wrap.className = "call-status";
    wrap.dataset.status = s.status;
    var badge = document.createElement("span");
    badge.className = "badge badge-" + s.status;
    badge.textContent = text;
    wrap.appendChild(badge);
    return wrap;
  }

  var source = null;

  function connect() {
    var root = page();
    if (!root || root.dataset.live !== "true" || !window.EventSource) return;
    var callId = root.dataset.callId;
    var turns = turnsFromDom();
    var seen = {};
    turns.forEach(function (t) { seen[t.seq] = 1; });
    var pending = false;
    source = new EventSource("/api/calls/" + callId + "/events");
    source.addEventListener("segment", function (e) {
      var t = JSON.parse(e.data);
      if (seen[t.seq]) return;
      seen[t.seq] = 1;
      turns.push(t);
      if (!pending) {
        pending = true;
        window.requestAnimationFrame(function () { pending = false; renderTranscript(turns); });
      }
    });
    source.addEventListener("status", function (e) {
      var s = JSON.parse(e.data);
      var holder = document.getElementById("call-status");
      if (holder) { holder.innerHTML = ""; holder.appendChild(statusBadge(s)); }
      root.dataset.status = s.status;
      var bar = document.getElementById("live-bar");
      var lab = document.getElementById("live-label");
      if (bar && lab) {
        if (s.status === "transcribing") {
          bar.value = Math.round((s.progress || 0) * 100);
          lab.textContent = "Transcribing… " + Math.round((s.progress || 0) * 100) + "%";
        } else if (s.status === "analyzing") {
          bar.removeAttribute("value");
          lab.textContent = "Writing the Minutes…";
        }
      }
      if (TERMINAL[s.status]) finished();
    });
    source.onerror = function () {
      /* the stream ends after a final status; if it broke off earlier, the browser
         reconnects by itself. */
      if (TERMINAL[page() && page().dataset.status]) finished();
    };
  }

  function finished() {
    if (source) { source.close(); source = null; }
    var root = page();
    if (!root || root.dataset.swapping) return;
    root.dataset.swapping = "1";
    /* give the last segment events a moment, then fetch the finished page */
    setTimeout(function () {
      window.htmx.ajax("GET", window.location.pathname, {
        target: "#call-page", select: "#call-page", swap: "outerHTML"
      }).then(function () {
        connect();  /* a retried call may be live again */
      });
    }, 300);
  }

  /* a masked PII value ([card], [phone] …): a user with pii.reveal clicks it to see it;
     the server writes the reveal to the audit log */
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button.pii[data-turn]");
    if (!button || button.dataset.revealed) return;
    var meta = document.querySelector('meta[name="csrf-token"]');
    fetch("/api/turns/" + button.dataset.turn + "/reveal", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": meta ? meta.content : ""},
      body: JSON.stringify({index: parseInt(button.dataset.index, 10)})
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
      if (!body) { button.title = "Could not reveal this value."; return; }
      button.textContent = body.text;
      button.dataset.revealed = "1";
      button.classList.add("revealed");
    });
  });

  document.addEventListener("DOMContentLoaded", connect);
})();
