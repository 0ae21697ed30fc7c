// The pages' behaviour: reveal blurred pictures, keyboard decisions, live submission rows.
"use strict";

function setUpReveal() {
  const buttons = Array.from(document.querySelectorAll("button.reveal"));
  const show = (button, shown) => {
    button.querySelector("img.keyframe").classList.toggle("veiled", !shown);
    button.setAttribute("aria-pressed", String(shown));
  };
  buttons.forEach((button) => {
    show(button, false);
    button.addEventListener("click", () =>
      show(button, button.getAttribute("aria-pressed") !== "true"),
    );
  });
  return () => {
    const anyVeiled = buttons.some((b) => b.getAttribute("aria-pressed") !== "true");
    buttons.forEach((button) => show(button, anyVeiled));
  };
}

function setUpKeys(revealAll) {
  const form = document.getElementById("decide");
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
    if (typing || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const key = event.key.toLowerCase();
    if (key === "v") {
      revealAll();
      return;
    }
    if (!form) {
      return;
    }
    const button = form.querySelector(`button[data-key="${key}"]`);
    if (button) {
      event.preventDefault();
      form.requestSubmit(button);
    }
  });
}

function setUpPolling() {
  const table = document.getElementById("submissions");
  if (!table) {
    return;
  }
  const rowsOf = () => Array.from(table.querySelectorAll("tbody tr[data-id]"));
  let pending = new Set(
    rowsOf()
      .filter((row) => !/^(done|failed)/.test(row.querySelector('[data-field="status"]').textContent))
      .map((row) => row.dataset.id),
  );
  const poll = async () => {
    if (pending.size === 0) {
      return;
    }
    const ids = Array.from(pending).join(",");
    try {
      const response = await fetch(`/submissions/states?ids=${encodeURIComponent(ids)}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) {
        const data = await response.json();
        for (const item of data.items) {
          const row = table.querySelector(`tr[data-id="${CSS.escape(item.id)}"]`);
          if (!row) {
            continue;
          }
          for (const field of ["status", "verdict", "score", "label"]) {
            row.querySelector(`[data-field="${field}"]`).textContent = item[field];
          }
          if (item.final) {
            pending.delete(item.id);
          }
        }
      }
    } finally {
      if (pending.size > 0) {
        window.setTimeout(poll, 2000);
      }
    }
  };
  window.setTimeout(poll, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const revealAll = setUpReveal();
  setUpKeys(revealAll);
  setUpPolling();
});
