// The pipeline board: drag a card to another stage to move the opportunity there (a POST to
// the card's move URL with the CSRF token, answered in JSON). Without this script each card's
// "move to" select does the same by a plain form post. A move the server refuses (into the lost
// column: losing needs a reason) puts the card back and shows the reason above the board.
// A column's "N more…" link appends its next cards (HTMX); they are the list's children, so
// Sortable drags them like the first ones. A loaded card the user already dragged into this
// column (it comes again in the column's order) is dropped: the one where it was put stays.
// After a move the column headers (count, sums of the whole column) are fetched again.
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function showError(message) {
    var box = document.getElementById("board-error");
    if (!box) return;
    box.textContent = message;
    box.classList.remove("d-none");
  }

  function refreshHeaders() {
    // each column's count and sums, again from the server (swapped in out of band)
    var board = document.getElementById("board");
    if (!board || !board.dataset.headersUrl || typeof htmx === "undefined") return;
    htmx.ajax("GET", board.dataset.headersUrl, { source: board, swap: "none" });
  }

  function move(card, from, to, oldIndex) {
    var body = new FormData();
    body.append("stage", to.dataset.stage);
    fetch(card.dataset.moveUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new Error(data.detail || response.statusText);
          return data;
        });
      })
      .then(function (data) {
        var probability = card.querySelector(".probability");
        if (probability) probability.textContent = data.probability + " %";
        var select = card.querySelector("select[name=stage]");
        if (select) select.value = String(data.stage);
        if (data.state !== "open") window.location.reload();
        else refreshHeaders();
      })
      .catch(function (error) {
        from.insertBefore(card, from.children[oldIndex] || null); // put it back
        showError(error.message);
      });
  }

  function dropRepeatedCards(event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.classList || !target.classList.contains("crm-cards")) return;
    var seen = {};
    document.querySelectorAll(".crm-card").forEach(function (card) {
      if (seen[card.id]) card.remove();
      else seen[card.id] = true;
    });
  }

  function init() {
    document.body.addEventListener("htmx:afterSwap", dropRepeatedCards);
    if (typeof Sortable === "undefined") return;
    document.querySelectorAll(".crm-cards").forEach(function (list) {
      Sortable.create(list, {
        group: "crm-pipeline",
        animation: 150,
        forceFallback: true, // mouse and touch events rather than HTML5 drag and drop
        filter: "select, button, a",
        preventOnFilter: false,
        onEnd: function (event) {
          if (event.from === event.to) return;
          move(event.item, event.from, event.to, event.oldIndex);
        },
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
