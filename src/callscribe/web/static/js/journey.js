/* The journey page: three panes. The navigation pane is rendered by the server (every
   conversation and engagement); this file loads the conversations pane page by page
   from GET /api/customers/{id}/journey, marks in the navigation which conversations are
   in view, scrolls to a clicked or deep-linked engagement/turn, and runs the action
   pane (prompting with a remembered prompt, similar turns). No inline scripts. */
(function () {
  "use strict";
  var GROUP_WINDOW_MS = 60000; // turns of one participant within a minute: one block
  var PROMPT_KEY = "callscribe.journey.lastPrompt";
  var CHANNEL_ICONS = { voice: "\u260E", chat: "\u275D", email: "\u2709", ticket: "\u2317" };
  var DIRECTION_ICONS = { inbound: "\u2199", outbound: "\u2197", internal: "\u2194" };

  var root = document.getElementById("journey");
  if (!root) return;
  var pane = document.getElementById("conv-pane");
  var customerId = root.dataset.customerId;
  var pageSize = Number(root.dataset.pageSize) || 20;
  var total = Number(root.dataset.total) || 0;
  var pages = {}; // page number -> "loading" | "loaded"
  var pageLoads = {}; // page number -> Promise
  var selectedEngagement = null;
  var selectedTurn = null;
  var navByKey = {};
  var starts = {}; // conversation key -> date label, for the overlap notice

  Array.prototype.forEach.call(document.querySelectorAll(".nav-conv"), function (li) {
    navByKey[li.dataset.key] = li;
    starts[li.dataset.key] = li.querySelector("time").textContent;
  });

  /* -- helpers ------------------------------------------------------------------------- */

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return d.toISOString().slice(0, 16).replace("T", " ");
  }

  function fmtClock(iso) {
    return iso ? new Date(iso).toISOString().slice(11, 19) : "";
  }

  function fmtDuration(ms) {
    var s = Math.round(ms / 1000);
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min " + (s % 60) + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function turnTime(engagement, turn) {
    if (turn.at) return Date.parse(turn.at);
    var base = engagement.started_at ? Date.parse(engagement.started_at) : 0;
    return base + (turn.start_ms || 0);
  }

  function pageOfIndex(index) { return Math.floor(index / pageSize) + 1; }

  /* -- loading the conversations pane --------------------------------------------------- */

  function placeholders() {
    var count = Math.ceil(total / pageSize);
    for (var p = 1; p <= count; p++) {
      var section = el("section", "conv-page");
      section.dataset.page = String(p);
      var n = Math.min(pageSize, total - (p - 1) * pageSize);
      section.style.minHeight = n * 180 + "px"; // until loaded, so scrolling works
      pane.appendChild(section);
    }
  }

  function loadPage(p) {
    if (pageLoads[p]) return pageLoads[p];
    pages[p] = "loading";
    var url = "/api/customers/" + customerId + "/journey?page=" + p + "&page_size=" + pageSize;
    pageLoads[p] = fetch(url, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (body) {
        var section = pane.querySelector('.conv-page[data-page="' + p + '"]');
        section.textContent = "";
        body.conversations.forEach(function (conv) { section.appendChild(renderConversation(conv)); });
        section.style.minHeight = "";
        pages[p] = "loaded";
        observeConversations(section);
      })
      .catch(function (err) {
        delete pageLoads[p];
        var section = pane.querySelector('.conv-page[data-page="' + p + '"]');
        if (section) section.textContent = "Could not load these conversations (" + err.message + ").";
      });
    return pageLoads[p];
  }

  function keyOf(conv) { return conv.id || "e-" + conv.engagements[0].id; }

  function renderConversation(conv) {
    var key = keyOf(conv);
    var article = el("article", "conv");
    article.id = "conv-" + key;
    article.dataset.key = key;
    var head = el("header", "conv-head");
    var dir = el("span", "dir-icon", DIRECTION_ICONS[conv.direction] || "\u00B7");
    dir.title = conv.direction || "direction unknown";
    head.appendChild(dir);
    head.appendChild(el("time", "conv-date", fmtTime(conv.started_at)));
    head.appendChild(el("span", "conv-channels", conv.channels.join(", ")));
    var nav = navByKey[key];
    var overlaps = nav && nav.dataset.overlaps ? nav.dataset.overlaps.split(" ") : [];
    overlaps.forEach(function (other) {
      var notice = el("a", "overlap-notice");
      notice.href = "#conv-" + other;
      notice.dataset.key = other;
      notice.dataset.testid = "overlap-notice";
      notice.textContent = "Overlaps another conversation (" + (starts[other] || "") + ")";
      head.appendChild(notice);
    });
    article.appendChild(head);
    article.appendChild(renderStream(conv));
    return article;
  }

  /* Turns in time order across the conversation's engagements; an engagement's header
     sits where it starts (who joined and when). */
  function renderStream(conv) {
    var events = [];
    conv.engagements.forEach(function (eng, ei) {
      var start = eng.started_at ? Date.parse(eng.started_at) : 0;
      events.push({ kind: "engagement", time: start, order: ei, sub: -1, engagement: eng });
      eng.turns.forEach(function (turn, ti) {
        events.push({ kind: "turn", time: turnTime(eng, turn), order: ei, sub: ti, engagement: eng, turn: turn });
      });
    });
    events.sort(function (a, b) {
      return a.time - b.time || a.order - b.order || a.sub - b.sub;
    });
    var stream = el("div", "conv-stream");
    var group = null;
    events.forEach(function (ev) {
      if (ev.kind === "engagement") {
        stream.appendChild(renderEngagementHead(ev.engagement));
        group = null;
        return;
      }
      var turn = ev.turn, eng = ev.engagement;
      if (group && group.engagement === eng.id && group.role === turn.role &&
          group.participant === turn.participant && ev.time - group.time < GROUP_WINDOW_MS) {
        group.node.appendChild(renderTurn(eng, turn));
        return;
      }
      var block = el("div", "turn-group role-" + turn.role);
      block.dataset.engagement = eng.id;
      var th = el("div", "turn-head");
      th.appendChild(el("span", "ch-icon " + eng.handled_by, CHANNEL_ICONS[eng.channel] || "\u2022"));
      th.appendChild(el("b", "participant", turn.participant));
      if (turn.at) th.appendChild(el("time", "turn-at", fmtClock(turn.at)));
      if (turn.response_ms !== null && turn.response_ms !== undefined) {
        th.appendChild(el("span", "response-time", "replied after " + fmtDuration(turn.response_ms)));
      }
      block.appendChild(th);
      block.appendChild(renderTurn(eng, turn));
      stream.appendChild(block);
      group = { engagement: eng.id, role: turn.role, participant: turn.participant, time: ev.time, node: block };
    });
    return stream;
  }

  function renderEngagementHead(eng) {
    var head = el("div", "eng-head");
    head.id = "eng-" + eng.id;
    head.dataset.engagement = eng.id;
    var icon = el("span", "ch-icon " + eng.handled_by, CHANNEL_ICONS[eng.channel] || "\u2022");
    icon.title = eng.channel + ", handled by " + (eng.handled_by === "human" ? "a human" : "no human");
    head.appendChild(icon);
    head.appendChild(el("b", "eng-channel", eng.channel));
    head.appendChild(el("span", "eng-queue", eng.queue || eng.agent_name || "no queue"));
    head.appendChild(el("span", "eng-outcome", eng.outcome || "no outcome yet"));
    var joined = (eng.agent_name || (eng.handled_by === "bot" ? "A bot" : "An agent")) + " joined";
    if (eng.started_at) joined += " at " + fmtTime(eng.started_at);
    head.appendChild(el("span", "eng-joined", joined));
    Object.keys(eng.trackers || {}).sort().forEach(function (name) {
      var chip = el("span", "eng-tracker", name + " \u00d7" + eng.trackers[name]);
      chip.title = "tracker " + name + " matched " + eng.trackers[name] + " time(s)";
      head.appendChild(chip);
    });
    var link = el("a", "eng-open", "Open");
    link.href = "/calls/" + eng.id;
    head.appendChild(link);
    var reviews = el("div", "reviews-slot muted", "Reviews: none yet");
    reviews.dataset.slot = "reviews";
    head.appendChild(reviews);
    return head;
  }

  function renderTurn(eng, turn) {
    var p = el("p", "turn", turn.text);
    p.id = "turn-" + turn.id;
    p.dataset.turn = String(turn.id);
    p.dataset.engagement = eng.id;
    p.dataset.role = turn.role;
    return p;
  }

  /* -- which conversations are in view (the thin bar in the navigation) ----------------- */

  var inView = null;
  if ("IntersectionObserver" in window) {
    inView = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var nav = navByKey[entry.target.dataset.key];
        if (nav) nav.classList.toggle("in-view", entry.isIntersecting);
      });
    }, { root: pane, threshold: 0 });
    var lazy = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) loadPage(Number(entry.target.dataset.page));
      });
    }, { root: pane, rootMargin: "400px 0px" });
    placeholders();
    Array.prototype.forEach.call(pane.querySelectorAll(".conv-page"), function (s) { lazy.observe(s); });
  } else {
    placeholders();
  }

  function observeConversations(section) {
    if (!inView) return;
    Array.prototype.forEach.call(section.querySelectorAll(".conv"), function (a) { inView.observe(a); });
  }

  /* -- scrolling to a conversation, engagement or turn ---------------------------------- */

  function indexOfKey(key) {
    var nav = navByKey[key];
    return nav ? Number(nav.dataset.index) : -1;
  }

  function keyOfEngagement(id) {
    var link = document.querySelector('.nav-eng[data-engagement="' + id + '"]');
    return link ? link.dataset.key : null;
  }

  function scrollPaneTo(node) {
    var top = node.getBoundingClientRect().top - pane.getBoundingClientRect().top + pane.scrollTop;
    pane.scrollTop = Math.max(0, top - 8);
  }

  function goTo(key, selector) {
    var index = indexOfKey(key);
    if (index < 0) return Promise.resolve(null);
    return loadPage(pageOfIndex(index)).then(function () {
      var node = document.querySelector(selector) || document.getElementById("conv-" + key);
      if (node) scrollPaneTo(node);
      return node;
    });
  }

  document.addEventListener("click", function (event) {
    var navLink = event.target.closest(".nav-eng, .nav-conv-link, .overlap-notice");
    if (navLink) {
      event.preventDefault();
      var key = navLink.dataset.key;
      if (navLink.classList.contains("nav-eng")) {
        var id = navLink.dataset.engagement;
        goTo(key, "#eng-" + id).then(function () { selectEngagement(id); });
      } else {
        goTo(key, "#conv-" + key);
      }
      return;
    }
    var turn = event.target.closest(".turn[data-turn]");
    if (turn) {
      selectEngagement(turn.dataset.engagement);
      selectTurn(turn.dataset.turn);
      return;
    }
    var head = event.target.closest(".eng-head, .turn-group");
    if (head && !event.target.closest("a")) selectEngagement(head.dataset.engagement);
  });

  /* -- the action pane ------------------------------------------------------------------ */

  var form = document.getElementById("ask-form");
  var promptBox = document.getElementById("ask-prompt");
  var answerBox = document.getElementById("ask-answer");
  var askButton = document.getElementById("ask-button");

  function remembered() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(PROMPT_KEY) || "null");
      return saved && saved.prompt ? saved : null;
    } catch (e) { return null; }
  }

  function detailValue() {
    var checked = form.querySelector('input[name="detail"]:checked');
    return checked ? checked.value : "concise";
  }

  function setDetail(value) {
    var radio = form.querySelector('input[name="detail"][value="' + value + '"]');
    if (radio) radio.checked = true;
  }

  function ask(prompt, detail) {
    if (!selectedEngagement) return;
    var engagement = selectedEngagement;
    answerBox.textContent = "Asking…";
    answerBox.dataset.engagement = engagement;
    answerBox.dataset.state = "asking";
    window.callscribe.apiFetch("/api/engagements/" + engagement + "/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: prompt, detail: detail }),
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (engagement !== selectedEngagement) return; // another engagement was selected
      answerBox.textContent = "";
      if (!res.ok) {
        answerBox.textContent = (res.body.error && res.body.error.message) || "The question failed.";
        answerBox.dataset.state = "error";
        return;
      }
      var engine = el("p", "ask-engine muted", res.body.engine === "llm" ? "Answered by the AI endpoint" : "Local engine (extractive)");
      answerBox.appendChild(engine);
      answerBox.appendChild(el("div", "ask-text", res.body.answer));
      var sources = el("p", "ask-sources");
      res.body.sources.forEach(function (id) {
        var a = el("a", "ask-source", "#" + id);
        a.href = "#turn-" + id;
        a.dataset.turn = String(id);
        sources.appendChild(a);
        sources.appendChild(document.createTextNode(" "));
      });
      answerBox.appendChild(sources);
      answerBox.dataset.state = "answered";
    }).catch(function (err) {
      answerBox.textContent = "The question failed (" + err.message + ").";
      answerBox.dataset.state = "error";
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var prompt = promptBox.value.trim();
    if (!prompt) return;
    var detail = detailValue();
    try { window.localStorage.setItem(PROMPT_KEY, JSON.stringify({ prompt: prompt, detail: detail })); } catch (e) { /* private mode */ }
    ask(prompt, detail);
  });

  answerBox.addEventListener("click", function (event) {
    var link = event.target.closest(".ask-source");
    if (!link) return;
    event.preventDefault();
    var node = document.getElementById("turn-" + link.dataset.turn);
    if (node) { scrollPaneTo(node); selectTurn(link.dataset.turn); }
  });

  // the Feedback panel (feedback.js) follows the selection
  function announce() {
    var turnNode = selectedTurn ? document.getElementById("turn-" + selectedTurn) : null;
    root.dispatchEvent(new CustomEvent("journey:select", { detail: {
      engagement: selectedEngagement,
      turn: turnNode && turnNode.dataset.engagement === selectedEngagement ? selectedTurn : null,
      role: turnNode ? turnNode.dataset.role : null,
    } }));
  }

  function selectEngagement(id) {
    if (!id || id === selectedEngagement) return;
    selectedEngagement = id;
    if (selectedTurn) {
      var oldTurn = document.getElementById("turn-" + selectedTurn);
      if (!oldTurn || oldTurn.dataset.engagement !== id) {
        if (oldTurn) oldTurn.classList.remove("selected");
        selectedTurn = null;
      }
    }
    announce();
    Array.prototype.forEach.call(document.querySelectorAll(".eng-head.selected, .nav-eng.selected"), function (n) {
      n.classList.remove("selected");
    });
    var head = document.getElementById("eng-" + id);
    if (head) head.classList.add("selected");
    var nav = document.querySelector('.nav-eng[data-engagement="' + id + '"]');
    if (nav) nav.classList.add("selected");
    var label = document.getElementById("selected-engagement");
    label.textContent = head ? head.querySelector(".eng-channel").textContent + " · " +
      head.querySelector(".eng-joined").textContent : "Engagement " + id.slice(0, 8);
    label.dataset.engagement = id;
    askButton.disabled = false;
    var saved = remembered();
    if (saved) { // the last prompt runs again on the newly selected engagement
      promptBox.value = saved.prompt;
      setDetail(saved.detail);
      ask(saved.prompt, saved.detail);
    } else {
      answerBox.textContent = "";
    }
  }

  function selectTurn(id) {
    if (selectedTurn) {
      var old = document.getElementById("turn-" + selectedTurn);
      if (old) old.classList.remove("selected");
    }
    selectedTurn = id;
    var node = document.getElementById("turn-" + id);
    if (node) node.classList.add("selected");
    announce();
    var box = document.getElementById("similar-turns");
    box.textContent = "Looking for similar turns…";
    fetch("/api/journey/turns/" + id + "/similar", { credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        if (!res.ok) {
          box.textContent = (res.body.error && res.body.error.message) || "No similar turns.";
          return;
        }
        box.textContent = res.body.length ? "" : "No similar turns.";
        res.body.forEach(function (hit) {
          var row = el("div", "similar-turn");
          var link = el("a", "", "");
          link.href = "/calls/" + hit.engagement_id + "#turn-" + hit.turn_id;
          // search escapes the text and wraps matches in <mark>: keep only that markup
          link.textContent = hit.highlight.replace(/<\/?mark>/g, "").replace(/&lt;/g, "<")
            .replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&amp;/g, "&");
          row.appendChild(link);
          box.appendChild(row);
        });
      })
      .catch(function () { box.textContent = "No similar turns."; });
  }

  /* -- the deep link: ?engagement=…&turn=… ----------------------------------------------- */

  var targetEngagement = root.dataset.targetEngagement;
  var targetTurn = root.dataset.targetTurn;
  if (!targetEngagement && total) loadPage(1); // the oldest first, without waiting for layout
  if (targetEngagement) {
    var key = keyOfEngagement(targetEngagement);
    if (key) {
      goTo(key, targetTurn ? "#turn-" + targetTurn : "#eng-" + targetEngagement).then(function (node) {
        selectEngagement(targetEngagement);
        if (targetTurn && node && node.id === "turn-" + targetTurn) selectTurn(targetTurn);
      });
    }
  }
})();
