/* Automations page: show the fields of the chosen kind. */
(function () {
  // show the fields of the chosen kind; disabled inputs of the other kinds are not sent
  document.querySelectorAll('[data-kind-choice]').forEach((radio) => {
    radio.addEventListener('change', () => {
      document.querySelectorAll('[data-kind-fields]').forEach((box) => {
        const on = box.dataset.kindFields === radio.value;
        box.classList.toggle('active', on);
        box.querySelectorAll('input, select, textarea').forEach((el) => { el.disabled = !on; });
      });
    });
  });
})();
