/* callscribe: small helpers shared by every page (no build step). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* fetch() with the session cookie and the CSRF header, for the JSON API. */
  function apiFetch(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "X-CSRF-Token": csrfToken() }, options.headers || {});
    return fetch(url, options);
  }

  function flash(message, level) {
    var box = document.getElementById("flashes");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "flash flash-" + (level || "success");
    div.setAttribute("role", level === "error" ? "alert" : "status");
    var span = document.createElement("span");
    span.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "flash-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    div.appendChild(span);
    div.appendChild(close);
    box.appendChild(div);
  }

  /* <button data-copy="#input-id">Copy</button> */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) return;
    var text = target.value !== undefined ? target.value : target.textContent;
    var done = function () {
      var old = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = old; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      if (target.select) target.select();
      try { document.execCommand("copy"); } catch (e) { /* the text stays selected */ }
      done();
    }
  });

  /* close <details class="dropdown"> when clicking elsewhere */
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
      if (!d.contains(event.target)) d.removeAttribute("open");
    });
  });

  /* Behaviour declared in the markup, so the pages need no inline handlers (the CSP
     refuses them): <form data-confirm="Sure?">, <input data-autosubmit> (submits its
     htmx form on change), <input data-select-all> (selects its text on click), and the
     × of a flash message. */
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("change", function (event) {
    var input = event.target.closest("[data-autosubmit]");
    if (input && input.form && window.htmx) window.htmx.trigger(input.form, "submit");
  });
  document.addEventListener("click", function (event) {
    var input = event.target.closest("[data-select-all]");
    if (input && input.select) input.select();
    var close = event.target.closest(".flash-close");
    if (close && close.parentElement) close.parentElement.remove();
    var toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      var header = toggle.closest(".app-header");
      var open = header.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
  });

  window.callscribe = { csrfToken: csrfToken, apiFetch: apiFetch, flash: flash };
})();
