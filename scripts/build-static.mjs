// Copies the front-end packages installed by `npm ci` into Django static files.
// Nothing is fetched from a CDN at run time: the shell serves these copies.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "xietong", "core", "static", "vendor");
const files = {
  "htmx.org/dist/htmx.min.js": "htmx.min.js",
  "echarts/dist/echarts.min.js": "echarts.min.js",
  "sortablejs/Sortable.min.js": "Sortable.min.js",
  "bootstrap/dist/css/bootstrap.min.css": "bootstrap.min.css",
  "bootstrap/dist/js/bootstrap.bundle.min.js": "bootstrap.bundle.min.js",
  "bootstrap-icons/font/bootstrap-icons.min.css": "bootstrap-icons.min.css",
  "bootstrap-icons/font/fonts": "fonts",
  "bpmn-js/dist/bpmn-navigated-viewer.production.min.js": "bpmn-navigated-viewer.min.js",
  "bpmn-js/dist/bpmn-modeler.production.min.js": "bpmn-modeler.min.js",
  "bpmn-js/dist/assets": "bpmn-js",
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const [source, target] of Object.entries(files)) {
  cpSync(join(root, "node_modules", source), join(out, target), { recursive: true });
}
console.log(`front-end packages copied to ${out}`);
