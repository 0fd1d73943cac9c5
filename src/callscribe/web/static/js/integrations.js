/* Integrations page: the add-connector form and show/hide of secrets. */
(function () {
  /* one form per type: only the chosen type's fields are enabled (and submitted) */
  document.querySelectorAll("[data-type-choice]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      document.querySelectorAll("[data-type-fields]").forEach(function (box) {
        var on = box.getAttribute("data-type-fields") === radio.value;
        box.classList.toggle("active", on);
        box.querySelectorAll("input").forEach(function (i) { i.disabled = !on; });
      });
    });
  });
  /* show / hide a secret */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-reveal]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-reveal"));
    if (!input) return;
    var hidden = input.type === "password";
    input.type = hidden ? "text" : "password";
    button.textContent = hidden ? "Hide" : "Show";
  });
})();
