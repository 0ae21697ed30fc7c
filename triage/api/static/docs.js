"use strict";
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}
function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}
function render(spec) {
  document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
  const ops = document.getElementById("ops");
  ops.textContent = "";
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const box = el("div", {class: "op"},
        el("span", {class: "method"}, method), el("span", {class: "path"}, path),
        el("span", {class: "scope"}, op.description || "no key needed"),
        el("div", {}, op.summary || ""));
      if (op.parameters) {
        const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "description")));
        for (const p of op.parameters) table.append(el("tr", {}, el("td", {}, p.name), el("td", {}, p.in), el("td", {}, p.description || "")));
        box.append(table);
      }
      if (op.requestBody) {
        for (const [ctype, media] of Object.entries(op.requestBody.content)) {
          box.append(el("div", {}, "body (" + ctype + "): " + (refName(media.schema) || "")));
        }
      }
      const codes = Object.entries(op.responses).map(([code, r]) => {
        const media = r.content ? Object.values(r.content)[0] : null;
        const name = media ? refName(media.schema) : null;
        return code + (name ? " " + name : "");
      });
      box.append(el("div", {}, "responses: " + codes.join(", ")));
      ops.append(box);
    }
  }
  const schemas = document.getElementById("schemas");
  for (const [name, schema] of Object.entries(spec.components.schemas)) {
    schemas.append(el("details", {id: name}, el("summary", {}, name), el("pre", {}, JSON.stringify(schema, null, 2))));
  }
}
fetch("openapi.json").then(r => r.json()).then(render).catch(e => {
  document.getElementById("ops").textContent = "could not load openapi.json: " + e;
});
