/* The journey's Feedback panel: follows the selection of journey.js (the
   "journey:select" event), offers the forms and tags of the selected level (a turn of the
   customer, the agent or a bot, or the whole engagement), remembers the form picked per
   level, saves a review through POST /api/reviews, and lists the engagement's reviews:
   people's (approve / dispute; a disputed one: accept / partly accept / reject) and the
   AI's (correct / incorrect / unclear), drawn apart.
   No inline scripts. */
(function () {
  "use strict";
  var FORM_KEY = "callscribe.feedback.form."; // + level
  var root = document.getElementById("journey");
  var panel = document.getElementById("feedback");
  if (!root || !panel) return;
  var target = document.getElementById("feedback-target");
  var formBox = document.getElementById("feedback-form");
  var formSelect = document.getElementById("feedback-form-select");
  var questionsBox = document.getElementById("feedback-questions");
  var tagSelect = document.getElementById("feedback-tag");
  var comment = document.getElementById("feedback-comment");
  var list = document.getElementById("feedback-reviews");
  var tags = [], forms = [], current = null, snapshot = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function api(url, options) {
    return window.callscribe.apiFetch(url, options || {}).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    });
  }

  function fail(res, fallback) {
    var message = (res.body && res.body.error && res.body.error.message) || fallback;
    window.callscribe.flash(message, "error");
  }

  function levelOf(sel) {
    if (!sel.turn) return "engagement";
    return { customer: "customer_turn", agent: "agent_turn", bot: "bot_turn" }[sel.role] || "customer_turn";
  }

  function fillOptions(select, items, emptyLabel, chosen) {
    select.textContent = "";
    select.appendChild(el("option", "", emptyLabel)).value = "";
    items.forEach(function (item) {
      var option = el("option", "", item.name);
      option.value = item.id;
      if (item.id === chosen) option.selected = true;
      select.appendChild(option);
    });
  }

  function render(sel) {
    current = sel;
    if (!sel.engagement) return;
    var level = levelOf(sel);
    target.textContent = sel.turn ? "Turn #" + sel.turn + " (" + level.replace("_", " ") + ")" : "The whole engagement";
    if (sel.turn) {
      var whole = el("button", "secondary outline", "Review the whole engagement");
      whole.type = "button";
      whole.addEventListener("click", function () { render({ engagement: sel.engagement, turn: null, role: null }); });
      target.appendChild(document.createTextNode(" "));
      target.appendChild(whole);
    }
    formBox.hidden = false;
    var remembered = null;
    try { remembered = window.localStorage.getItem(FORM_KEY + level); } catch (e) { /* private mode */ }
    var usable = forms.filter(function (f) { return f.levels.indexOf(level) >= 0; });
    fillOptions(formSelect, usable, "No form", remembered);
    fillOptions(tagSelect, tags.filter(function (t) { return t.levels.indexOf(level) >= 0; }), "No tag", null);
    loadForm(formSelect.value);
    loadReviews(sel.engagement);
  }

  function loadForm(formId) {
    questionsBox.textContent = "";
    snapshot = null;
    if (!formId) return;
    api("/api/forms/" + formId + "/current").then(function (res) {
      if (!res.ok) return fail(res, "The form could not be loaded.");
      snapshot = res.body;
      res.body.sections.forEach(function (section) {
        questionsBox.appendChild(el("h4", "", section.title + (section.kind === "standard" ? "" : " (" + section.kind.replace("_", "-") + ")")));
        section.questions.forEach(function (q) { questionsBox.appendChild(questionInput(q)); });
      });
    });
  }

  function questionInput(q) {
    var box = el("div", "question");
    box.dataset.question = q.id;
    box.dataset.kind = q.kind;
    box.appendChild(el("div", "", q.text + (q.critical ? " (critical)" : "")));
    var values = [];
    if (q.kind === "binary") values = ["yes", "no"];
    else if (q.kind.indexOf("scale") === 0) {
      for (var i = 1; i <= Number(q.kind.slice(5)); i++) values.push(String(i));
    } else if (q.kind === "single_choice" || q.kind === "multiple_choice") {
      values = q.choices.map(function (c) { return c.label; });
    }
    if (q.kind === "text") {
      box.appendChild(el("textarea", "answer")).rows = 2;
      return box;
    }
    if (q.allow_na) values.push("na");
    values.forEach(function (v) {
      var label = el("label", "");
      var input = el("input", "answer");
      input.type = q.kind === "multiple_choice" && v !== "na" ? "checkbox" : "radio";
      input.name = "q-" + q.id;
      input.value = v;
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + (v === "na" ? "N/A" : v) + " "));
      box.appendChild(label);
    });
    return box;
  }

  function answers() {
    var out = {};
    Array.prototype.forEach.call(questionsBox.querySelectorAll(".question"), function (box) {
      var kind = box.dataset.kind, id = box.dataset.question;
      if (kind === "text") {
        var text = box.querySelector("textarea").value.trim();
        if (text) out[id] = text;
        return;
      }
      var picked = Array.prototype.filter.call(box.querySelectorAll("input"), function (i) { return i.checked; })
        .map(function (i) { return i.value; });
      if (!picked.length) return;
      if (picked[0] === "na") out[id] = "na";
      else if (kind === "multiple_choice") out[id] = picked;
      else if (kind.indexOf("scale") === 0) out[id] = Number(picked[0]);
      else out[id] = picked[0];
    });
    return out;
  }

  formSelect.addEventListener("change", function () {
    if (current) {
      try { window.localStorage.setItem(FORM_KEY + levelOf(current), formSelect.value); } catch (e) { /* private mode */ }
    }
    loadForm(formSelect.value);
  });

  formBox.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!current) return;
    var body = { engagement_id: current.engagement, comment: comment.value };
    if (current.turn) body.turn_id = Number(current.turn);
    if (tagSelect.value) body.tag_id = tagSelect.value;
    if (formSelect.value) { body.form_id = formSelect.value; body.answers = answers(); }
    api("/api/reviews", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (res) {
        if (!res.ok) return fail(res, "The review was not saved.");
        comment.value = "";
        window.callscribe.flash(res.body.score === null ? "Review saved." : "Review saved: " + res.body.score + "%.");
        loadReviews(current.engagement);
      });
  });

  function action(review, path, payload) {
    api("/api/reviews/" + review.id + "/" + path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload || {}),
    }).then(function (res) {
      if (!res.ok) return fail(res, "That did not work.");
      loadReviews(review.engagement_id);
    });
  }

  function button(text, onClick) {
    var b = el("button", "secondary outline", text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function reviewRow(r) {
    var ai = r.reviewer.kind === "ai";
    var row = el("div", "review " + (ai ? "review-ai" : "review-human"));
    row.dataset.review = r.id;
    row.dataset.kind = r.reviewer.kind;
    row.appendChild(el("span", "review-kind", ai ? "AI" : (r.reviewer.name || "Reviewer")));
    var what = [];
    if (r.tag) what.push(r.tag.name);
    if (r.score !== null) what.push(r.score + "%" + (r.auto_failed ? " (auto-fail)" : ""));
    if (r.turn_id) what.push("turn #" + r.turn_id);
    if (ai && r.confidence !== null) what.push("confidence " + Math.round(r.confidence * 100) + "%");
    what.push(r.status + (r.verdict ? ", marked " + r.verdict : ""));
    row.appendChild(el("span", "", what.join(" · ")));
    if (r.comment) row.appendChild(el("div", "muted", r.comment));
    var actions = el("div", "review-actions");
    if (ai) {
      ["correct", "incorrect", "unclear"].forEach(function (v) {
        actions.appendChild(button(v.charAt(0).toUpperCase() + v.slice(1), function () { action(r, "feedback", { verdict: v }); }));
      });
      if (r.turn_id) {
        var jump = el("a", "", "Show");
        jump.href = "#turn-" + r.turn_id;
        actions.appendChild(jump);
      }
    } else if (r.status === "disputed") {
      // managers resolve (the API refuses others with a message)
      [["Accept", "accepted"], ["Partly accept", "partly_accepted"], ["Reject", "rejected"]].forEach(function (pair) {
        actions.appendChild(button(pair[0], function () { action(r, "resolve", { outcome: pair[1] }); }));
      });
    } else if (r.status === "submitted" || r.status === "approved") {
      if (r.status === "submitted") actions.appendChild(button("Approve", function () { action(r, "approve"); }));
      actions.appendChild(button("Dispute", function () {
        var why = window.prompt("Why do you dispute this review?");
        if (why && why.trim()) action(r, "dispute", { comment: why.trim() });
      }));
    }
    row.appendChild(actions);
    return row;
  }

  function loadReviews(engagement) {
    list.textContent = "Loading reviews…";
    api("/api/reviews?page_size=200&engagement_id=" + encodeURIComponent(engagement)).then(function (res) {
      if (!current || current.engagement !== engagement) return;
      list.textContent = "";
      if (!res.ok) return fail(res, "The reviews could not be loaded.");
      if (!res.body.items.length) list.textContent = "No reviews yet.";
      res.body.items.forEach(function (r) { list.appendChild(reviewRow(r)); });
      var slot = document.querySelector('#eng-' + engagement + ' [data-slot="reviews"]');
      if (slot) {
        var people = res.body.items.filter(function (r) { return r.reviewer.kind === "human"; }).length;
        slot.textContent = "Reviews: " + people + " by people, " + (res.body.items.length - people) + " by the AI";
      }
    });
  }

  Promise.all([api("/api/tags"), api("/api/forms")]).then(function (got) {
    tags = got[0].ok ? got[0].body : [];
    forms = got[1].ok ? got[1].body : [];
    if (current) render(current);
  });

  root.addEventListener("journey:select", function (event) { render(event.detail); });
})();
