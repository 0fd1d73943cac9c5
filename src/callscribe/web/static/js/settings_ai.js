/* AI & speech settings: show the fields of the chosen engine and provider. */
(function () {
  var form = document.getElementById("ai-form");
  function sync() {
    var engine = form.querySelector('input[name="ai_engine"]:checked');
    document.getElementById("llm-fields").classList.toggle("hidden", !engine || engine.value !== "openai");
    var provider = document.getElementById("ai_provider");
    var opt = provider.options[provider.selectedIndex];
    document.getElementById("base-url-field").classList.toggle("hidden", provider.value !== "custom");
    document.getElementById("ai_model").placeholder = opt.dataset.model || "model name";
    document.getElementById("speech-remote").classList.toggle("hidden", document.getElementById("speech_engine").value !== "openai");
  }
  form.addEventListener("change", sync);
  sync();
})();
