// The pipeline board: drag a card to another stage to move the opportunity there (a POST to
// the card's move URL with the CSRF token, answered in JSON). Without this script each card's
// "move to" select does the same by a plain form post. A move the server refuses (into the lost
// column: losing needs a reason) puts the card back and shows the reason above the board.
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
      })
      .catch(function (error) {
        from.insertBefore(card, from.children[oldIndex] || null); // put it back
        showError(error.message);
      });
  }

  function init() {
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
