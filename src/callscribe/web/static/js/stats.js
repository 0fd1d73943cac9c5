/* Call page: the conversation stats' timeline of who spoke when (an SVG, one lane per
   role, holds shaded), from the strip's data-timeline (calls/views.py _stats_view).
   Clicking the timeline seeks the player there. Drawn again after the body is swapped. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var LANE = 14, GAP = 4, PAD = 2;

  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function draw() {
    var box = document.getElementById("stats-timeline");
    if (!box || box.dataset.drawn) return;
    var data;
    try { data = JSON.parse(box.dataset.timeline || "{}"); } catch (e) { return; }
    var end = Math.max(1, data.end_ms || 1);
    var roles = [];
    (data.spans || []).forEach(function (s) { if (roles.indexOf(s[0]) < 0) roles.push(s[0]); });
    roles.sort();
    var height = PAD * 2 + roles.length * (LANE + GAP);
    var svg = el("svg", { viewBox: "0 0 1000 " + height, preserveAspectRatio: "none",
                          width: "100%", height: String(height), role: "img" });
    (data.holds || []).forEach(function (h) {
      svg.appendChild(el("rect", { x: (h[0] / end) * 1000, y: 0, width: ((h[1] - h[0]) / end) * 1000,
                                   height: height, "class": "tl-hold" }));
    });
    (data.spans || []).forEach(function (s) {
      var lane = roles.indexOf(s[0]);
      var rect = el("rect", { x: (s[1] / end) * 1000, y: PAD + lane * (LANE + GAP),
                              width: Math.max(1, ((s[2] - s[1]) / end) * 1000), height: LANE,
                              "class": "tl-" + s[0] });
      var title = el("title", {});
      title.textContent = s[0] + " " + (s[1] / 1000).toFixed(1) + "–" + (s[2] / 1000).toFixed(1) + " s";
      rect.appendChild(title);
      svg.appendChild(rect);
    });
    svg.addEventListener("click", function (event) {
      var audio = document.getElementById("player");
      if (!audio) return;
      var bounds = svg.getBoundingClientRect();
      audio.currentTime = ((event.clientX - bounds.left) / bounds.width) * end / 1000;
    });
    box.appendChild(svg);
    box.dataset.drawn = "1";
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSwap", draw);
  if (document.readyState !== "loading") draw();
})();
