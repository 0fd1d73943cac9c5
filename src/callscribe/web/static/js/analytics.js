/* Analytics pages: charts drawn (vendored Chart.js) from each tile's own table, a bar
   or slice opens the engagements behind it; My views; favorites and "Save as new"; the
   metric editor; selections and asking about engagements. No inline script. */
(function () {
  "use strict";
  var cs = window.callscribe;

  function json(url, method, body) {
    return cs.apiFetch(url, {
      method: method,
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (r) {
      return r.text().then(function (t) {
        var data = t ? JSON.parse(t) : {};
        if (!r.ok) throw data.error || { message: "Request failed" };
        return data;
      });
    });
  }

  function drawCharts() {
    if (!window.Chart) return;
    document.querySelectorAll("article.tile").forEach(function (tile) {
      var canvas = tile.querySelector("canvas.tile-chart");
      var table = tile.querySelector("table.tile-table");
      if (!canvas || !table) return;
      var kind = tile.getAttribute("data-chart");
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent;
      });
      var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
      var groups = rows.length ? rows[0].querySelectorAll("td strong").length : 0;
      if (kind === "number" || groups === 0) {
        canvas.remove();
        tile.classList.add("tile-number");
        return;
      }
      var labels = rows.map(function (tr) {
        return Array.prototype.map.call(tr.querySelectorAll("td strong"), function (s) {
          return s.textContent.trim();
        }).join(" · ");
      });
      var datasets = heads.slice(groups).map(function (name, i) {
        return {
          label: name,
          data: rows.map(function (tr) {
            var v = tr.querySelectorAll("td.num")[i].getAttribute("data-value");
            return v === "" ? null : Number(v);
          }),
        };
      });
      var links = rows.map(function (tr) {
        var a = tr.querySelector("td strong a[data-testid=segment-link]") || tr.querySelector("td strong a");
        return a ? a.getAttribute("href") : null;
      });
      var type = kind === "pie" ? "pie" : kind === "line" ? "line" : "bar";
      new window.Chart(canvas, {
        type: type,
        data: { labels: labels, datasets: type === "pie" ? datasets.slice(0, 1) : datasets },
        options: {
          animation: false,
          onClick: function (_e, elements) {
            if (elements.length && links[elements[0].index]) {
              window.location.href = links[elements[0].index];
            }
          },
        },
      });
      canvas.setAttribute("data-ready", "1");
    });
  }

  function views() {
    var form = document.getElementById("save-view");
    if (!form) return;
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      json("/api/views", "POST", {
        dashboard: form.getAttribute("data-dashboard"),
        name: form.elements.name.value,
        filters: JSON.parse(form.getAttribute("data-filter") || "{}"),
        is_default: form.elements.is_default.checked,
      }).then(function (view) {
        window.location.href = window.location.pathname + "?view=" + view.id;
      }, function (err) { cs.flash(err.message, "error"); });
    });
    document.querySelectorAll("[data-view-default]").forEach(function (b) {
      b.addEventListener("click", function () {
        json("/api/views/" + b.getAttribute("data-view-default") + "/default", "PUT").then(
          function () { window.location.reload(); },
          function (err) { cs.flash(err.message, "error"); }
        );
      });
    });
    document.querySelectorAll("[data-view-delete]").forEach(function (b) {
      b.addEventListener("click", function () {
        json("/api/views/" + b.getAttribute("data-view-delete"), "DELETE").then(
          function () { window.location.href = window.location.pathname; },
          function (err) { cs.flash(err.message, "error"); }
        );
      });
    });
  }

  function visualization() {
    document.querySelectorAll("[data-favorite]").forEach(function (b) {
      b.addEventListener("click", function () {
        var on = b.getAttribute("data-on") === "true";
        json("/api/visualizations/" + b.getAttribute("data-favorite") + "/favorite", on ? "PUT" : "DELETE").then(
          function () { window.location.reload(); },
          function (err) { cs.flash(err.message, "error"); }
        );
      });
    });
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        json("/api/visualizations/" + b.getAttribute("data-copy") + "/copy", "POST", {}).then(
          function (v) { window.location.href = "/analytics/visualizations/" + v.id; },
          function (err) { cs.flash(err.message, "error"); }
        );
      });
    });
  }

  function metricEditor() {
    var form = document.getElementById("metric-editor");
    if (!form) return;
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var box = document.getElementById("metric-error");
      box.textContent = "";
      json("/api/metrics", "POST", {
        name: form.elements.name.value,
        label: form.elements.label.value,
        expression: form.elements.expression.value,
      }).then(function () { window.location.reload(); }, function (err) {
        box.textContent = err.message;
        var area = form.elements.expression;
        if (err.position) {
          area.focus();
          area.setSelectionRange(err.position - 1, err.position);
        }
      });
    });
  }

  function engagements() {
    var sel = document.getElementById("save-selection");
    if (sel) {
      sel.addEventListener("submit", function (e) {
        e.preventDefault();
        var payload = JSON.parse(sel.getAttribute("data-payload"));
        payload.name = sel.elements.name.value;
        json("/api/selections", "POST", payload).then(function (s) {
          document.getElementById("selection-done").textContent =
            "Saved " + s.engagement_ids.length + " engagements as \u201c" + s.name + "\u201d.";
        }, function (err) { cs.flash(err.message, "error"); });
      });
    }
    var ask = document.getElementById("ask-engagements");
    if (ask) {
      ask.addEventListener("submit", function (e) {
        e.preventDefault();
        json("/api/metrics/ask", "POST", {
          engagement_ids: JSON.parse(ask.getAttribute("data-ids")),
          prompt: ask.elements.prompt.value,
        }).then(function (a) {
          document.getElementById("ask-answer").textContent = a.answer;
        }, function (err) { cs.flash(err.message, "error"); });
      });
    }
  }

  function dashboards() {
    document.querySelectorAll("[data-dashboard-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        json("/api/dashboards/" + b.getAttribute("data-dashboard-copy") + "/copy", "POST", {}).then(
          function (d) { window.location.href = "/analytics/dashboards/" + d.id; },
          function (err) { cs.flash(err.message, "error"); }
        );
      });
    });
    document.querySelectorAll("[data-dashboard-rename]").forEach(function (b) {
      b.addEventListener("click", function () {
        var id = b.getAttribute("data-dashboard-rename");
        var name = window.prompt("New name", b.getAttribute("data-name"));
        if (!name) return;
        json("/api/dashboards/" + id, "GET").then(function (d) {
          return json("/api/dashboards/" + id, "PUT", {
            name: name, items: d.items, filters: d.filters, locked_filters: d.locked_filters,
          });
        }).then(function () { window.location.reload(); },
          function (err) { cs.flash(err.message, "error"); });
      });
    });
    document.querySelectorAll("[data-dashboard-delete]").forEach(function (b) {
      b.addEventListener("click", function () {
        if (!window.confirm("Delete this dashboard?")) return;
        json("/api/dashboards/" + b.getAttribute("data-dashboard-delete"), "DELETE").then(
          function () { window.location.href = "/analytics"; },
          function (err) { cs.flash(err.message, "error"); }
        );
      });
    });
  }

  // a custom dashboard's tiles: reorder (drag, or the arrows), resize, remove, add; each
  // change PUTs the whole dashboard (its filters kept) and reloads the page
  function arrange() {
    var grid = document.querySelector("[data-arrange]");
    if (!grid) return;
    var id = grid.getAttribute("data-arrange");
    function current() {
      return Array.prototype.map.call(grid.querySelectorAll(".tile"), function (t) {
        return { visualization: t.getAttribute("data-vis"), w: parseInt(t.getAttribute("data-w"), 10) || 6, h: 4 };
      });
    }
    function save(items) {
      var x = 0, y = 0;
      items.forEach(function (item) {  // flow them into rows of 12 columns
        if (x + item.w > 12) { x = 0; y += 4; }
        item.x = x; item.y = y; x += item.w;
      });
      json("/api/dashboards/" + id, "GET").then(function (d) {
        return json("/api/dashboards/" + id, "PUT", {
          name: d.name, items: items, filters: d.filters, locked_filters: d.locked_filters,
        });
      }).then(function () { window.location.reload(); },
        function (err) { cs.flash(err.message, "error"); });
    }
    grid.querySelectorAll("[data-tile]").forEach(function (b) {
      b.addEventListener("click", function () {
        var tiles = Array.prototype.slice.call(grid.querySelectorAll(".tile"));
        var i = tiles.indexOf(b.closest(".tile"));
        var items = current();
        var action = b.getAttribute("data-tile");
        if (action === "earlier" && i > 0) items.splice(i - 1, 0, items.splice(i, 1)[0]);
        else if (action === "later" && i < items.length - 1) items.splice(i + 1, 0, items.splice(i, 1)[0]);
        else if (action === "wider") items[i].w = Math.min(12, items[i].w + 2);
        else if (action === "narrower") items[i].w = Math.max(2, items[i].w - 2);
        else if (action === "remove") items.splice(i, 1);
        else return;
        save(items);
      });
    });
    var dragged = null;
    grid.querySelectorAll(".tile").forEach(function (t) {
      t.addEventListener("dragstart", function (e) {
        dragged = t;
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", t.getAttribute("data-vis"));
      });
      t.addEventListener("dragover", function (e) {
        if (dragged && dragged !== t) { e.preventDefault(); t.classList.add("drop-target"); }
      });
      t.addEventListener("dragleave", function () { t.classList.remove("drop-target"); });
      t.addEventListener("drop", function (e) {
        e.preventDefault();
        t.classList.remove("drop-target");
        if (!dragged || dragged === t) return;
        var tiles = Array.prototype.slice.call(grid.querySelectorAll(".tile"));
        var from = tiles.indexOf(dragged), to = tiles.indexOf(t);
        var items = current();
        items.splice(to, 0, items.splice(from, 1)[0]);
        dragged = null;
        save(items);
      });
    });
    var add = document.getElementById("add-tile");
    if (add) {
      add.addEventListener("submit", function (e) {
        e.preventDefault();
        var items = current();
        items.push({ visualization: add.elements.visualization.value, w: 6, h: 4 });
        save(items);
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    arrange();
    dashboards();
    drawCharts();
    views();
    visualization();
    metricEditor();
    engagements();
  });
})();
