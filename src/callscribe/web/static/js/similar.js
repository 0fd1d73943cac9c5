/* Call page, search side: open the page at one turn (`?turn=<id>` or `#turn-<id>`, as
   the Search page links it: scrolled to the turn, the audio at its time), and the
   "Similar" button on every turn, which lists the turns most like it from
   GET /api/turns/{id}/similar. Highlights come HTML-escaped with <mark>; they are
   rebuilt here from text nodes and <mark> elements only, never inserted as HTML. */
(function () {
  "use strict";

  function ts(ms) {
    var total = Math.round((ms || 0) / 1000);
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  /* the highlight as DOM: the text of every node, and <mark> where the index put it */
  function highlighted(html) {
    var inert = document.createElement("template");
    inert.innerHTML = html;  /* a template's content is inert: nothing loads or runs */
    var out = document.createDocumentFragment();
    function walk(node, into) {
      node.childNodes.forEach(function (child) {
        if (child.nodeType === Node.TEXT_NODE) {
          into.appendChild(document.createTextNode(child.textContent));
        } else if (child.nodeType === Node.ELEMENT_NODE && child.tagName === "MARK") {
          var mark = document.createElement("mark");
          mark.textContent = child.textContent;
          into.appendChild(mark);
        } else if (child.nodeType === Node.ELEMENT_NODE) {
          into.appendChild(document.createTextNode(child.textContent));
        }
      });
    }
    walk(inert.content, out);
    return out;
  }

  /* -- opening the page at a turn ------------------------------------------------------- */

  function targetTurnId() {
    var param = new URLSearchParams(window.location.search).get("turn");
    if (param && /^\d+$/.test(param)) return param;
    var hash = /^#turn-(\d+)$/.exec(window.location.hash || "");
    return hash ? hash[1] : null;
  }

  function openAtTurn() {
    var id = targetTurnId();
    if (!id) return;
    var turn = document.getElementById("turn-" + id);
    if (!turn) return;
    turn.classList.add("target-turn");
    var box = document.getElementById("transcript");
    if (box) {
      var top = turn.offsetTop - box.offsetTop;
      box.style.scrollBehavior = "auto";
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
      box.style.scrollBehavior = "";
    }
    turn.scrollIntoView({ block: "center" });
    var audio = document.getElementById("player");
    if (!audio) return;
    var at = Number(turn.dataset.start) / 1000 + 0.01;
    var seek = function () { audio.currentTime = at; };
    if (audio.readyState >= 1) seek();
    else audio.addEventListener("loadedmetadata", seek, { once: true });
    audio.dataset.startAt = String(at);
  }

  /* -- similar turns -------------------------------------------------------------------- */

  function item(hit) {
    var li = document.createElement("li");
    li.className = "similar-item";
    li.dataset.turnId = hit.turn_id;
    li.dataset.engagementId = hit.engagement_id;
    var a = document.createElement("a");
    a.href = "/calls/" + hit.engagement_id + "?turn=" + hit.turn_id + "#turn-" + hit.turn_id;
    a.dataset.testid = "similar-link";
    a.setAttribute("data-testid", "similar-link");
    a.appendChild(highlighted(hit.highlight || ""));
    var meta = document.createElement("small");
    meta.className = "muted";
    var e = hit.engagement || {};
    var parts = [hit.speaker || hit.role, ts(hit.start_ms)];
    if (e.subject) parts.push(e.subject);
    if (e.started_at) parts.push(e.started_at.slice(0, 10));
    if (e.agent_name) parts.push(e.agent_name);
    meta.textContent = parts.join(" · ");
    li.appendChild(a);
    li.appendChild(document.createElement("br"));
    li.appendChild(meta);
    return li;
  }

  function openSimilar(button) {
    var turn = button.closest(".turn");
    var next = turn.nextElementSibling;
    if (next && next.classList.contains("similar-panel")) {
      next.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    var panel = document.createElement("div");
    panel.className = "similar-panel";
    panel.setAttribute("data-testid", "similar-panel");
    var status = document.createElement("p");
    status.className = "muted";
    status.textContent = "Looking for similar turns…";
    panel.appendChild(status);
    turn.parentNode.insertBefore(panel, turn.nextSibling);
    button.setAttribute("aria-expanded", "true");
    window.callscribe.apiFetch("/api/turns/" + button.dataset.similar + "/similar?limit=10")
      .then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) {
          status.textContent = (answer.body.error && answer.body.error.message) || "Search failed.";
          return;
        }
        var items = answer.body.items || [];
        if (!items.length) { status.textContent = "No similar turns yet."; return; }
        status.textContent = "Similar turns";
        var list = document.createElement("ol");
        list.className = "similar-list";
        items.forEach(function (hit) { list.appendChild(item(hit)); });
        panel.appendChild(list);
      })
      .catch(function () { status.textContent = "Search failed; try again."; });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".turn-similar");
    if (!button) return;
    event.preventDefault();
    openSimilar(button);
  });

  document.addEventListener("DOMContentLoaded", openAtTurn);
  window.addEventListener("hashchange", openAtTurn);
})();
