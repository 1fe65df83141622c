// The scan screen of a handheld: keep the focus where the next scan goes. The server marks
// that field (autofocus, data-scan-focus) in each answer; a barcode scanner types the code
// and Enter, the form posts through HTMX and the panel is replaced.
(function () {
  function focusNext(root) {
    const field = (root || document).querySelector("[data-scan-focus]");
    if (!field) return;
    field.focus();
    if (typeof field.select === "function") field.select();
  }

  document.addEventListener("DOMContentLoaded", () => focusNext(document));
  document.addEventListener("htmx:afterSettle", () => focusNext(document));
  // A tap anywhere but a field or a button puts the focus back in the scan field, so the next
  // scan is never lost.
  document.addEventListener("click", (event) => {
    const panel = document.getElementById("scan-panel");
    if (!panel || event.target.closest("input, button, a, select, textarea, label")) return;
    focusNext(document);
  });
})();
