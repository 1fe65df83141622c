// The BPMN modeler (bpmn-js Modeler): loads the definition's XML from the hidden textarea and,
// when the form is submitted, writes the edited XML back into it before the normal POST
// (CSRF token included as for any form). No inline scripts: the CSP forbids them.
(function () {
  document.addEventListener("DOMContentLoaded", async () => {
    const form = document.querySelector("form[data-modeler]");
    if (!form || !window.BpmnJS) return;
    const container = document.getElementById(form.dataset.modeler);
    const textarea = form.querySelector("textarea[name=bpmn_xml]");
    const modeler = new window.BpmnJS({ container });
    try {
      await modeler.importXML(textarea.value);
      modeler.get("canvas").zoom("fit-viewport", "auto");
      container.dataset.drawn = "1";
    } catch (error) {
      const note = document.querySelector(`[data-bpmn-error="${container.id}"]`);
      if (note) note.hidden = false;
      console.error("bpmn-js:", error);
    }
    let saving = false;
    form.addEventListener("submit", async (event) => {
      if (saving) return;
      event.preventDefault();
      try {
        const { xml } = await modeler.saveXML({ format: true });
        textarea.value = xml;
      } catch (error) {
        console.error("bpmn-js:", error);
      }
      saving = true;
      form.submit();
    });
  });
})();
