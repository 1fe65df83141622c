// Draws BPMN diagrams with bpmn-js (NavigatedViewer): the XML comes from the json_script element
// named by data-bpmn, the BPMN ids to highlight from the one named by data-highlight
// ({"completed": [...], "current": [...]}). No inline scripts: the CSP forbids them.
(function () {
  function readJson(id) {
    const source = id && document.getElementById(id);
    return source ? JSON.parse(source.textContent) : null;
  }

  function showError(element, error) {
    const note = document.querySelector(`[data-bpmn-error="${element.id}"]`);
    if (note) note.hidden = false;
    console.error("bpmn-js:", error);
  }

  async function draw(element) {
    if (element.dataset.rendered || !window.BpmnJS) return;
    element.dataset.rendered = "1";
    const xml = readJson(element.dataset.bpmn);
    if (!xml) return;
    const viewer = new window.BpmnJS({ container: element });
    try {
      await viewer.importXML(xml);
    } catch (error) {
      showError(element, error);
      return;
    }
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    const highlight = readJson(element.dataset.highlight) || {};
    for (const [kind, marker] of [["completed", "wf-completed"], ["current", "wf-current"]]) {
      for (const id of highlight[kind] || []) {
        if (registry.get(id)) canvas.addMarker(id, marker);
      }
    }
    element.dataset.drawn = "1";
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-bpmn]").forEach(draw);
  });
})();
