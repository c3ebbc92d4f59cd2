// The code form's live preview: when the template or a new code's short link path changes, the
// image is asked for again from the dashboard (data-preview-url, drawn by the API's image code)
// and the caption says what it encodes. Without this script the form shows the image as the
// page was made; saving works the same.
"use strict";

// What a short link path may hold (docs/api.md): these characters, or an escape %XX of a byte
// that is not a control character, '/', '\\' or '.'. A path the API refuses is not asked for.
const PATH = /^(?:[A-Za-z0-9\-_.~]|%[0-9A-Fa-f]{2})+$/;
const ESCAPE = /%([0-9A-Fa-f]{2})/g;
const REFUSED_ESCAPES = new Set([0x2f, 0x5c, 0x2e, 0x7f]);
const MAX_PATH = 128;
const TYPING_PAUSE_MS = 300;

function acceptable(path, reserved) {
  if (path.length > MAX_PATH || !PATH.test(path) || path.startsWith(".")) return false;
  if (reserved.has(path.toLowerCase())) return false;
  for (const [, hex] of path.matchAll(ESCAPE)) {
    const byte = parseInt(hex, 16);
    if (byte < 0x20 || REFUSED_ESCAPES.has(byte)) return false;
  }
  return true;
}

function followForm(figure, form) {
  const image = figure.querySelector("img");
  const url = figure.querySelector("#qr-preview-url");
  const note = figure.querySelector("#qr-preview-note");
  const template = form.elements.namedItem("templateId");
  const path = form.elements.namedItem("displayId");
  const reserved = new Set((figure.dataset.reserved || "").toLowerCase().split(" "));

  const refresh = () => {
    const query = new URLSearchParams();
    if (figure.dataset.code) {
      query.set("code", figure.dataset.code);
    } else {
      const typed = path ? path.value.trim() : "";
      if (typed && !acceptable(typed, reserved)) return; // saving says what is wrong with it
      query.set("displayId", typed);
      url.textContent = figure.dataset.base + (typed || figure.dataset.placeholder);
      if (note) note.hidden = typed !== "";
    }
    query.set("templateId", template ? template.value : "");
    const src = figure.dataset.previewUrl + "?" + query.toString();
    if (image.getAttribute("src") !== src) image.setAttribute("src", src);
  };

  let pause = null;
  const soon = () => {
    clearTimeout(pause);
    pause = setTimeout(refresh, TYPING_PAUSE_MS);
  };
  if (template) template.addEventListener("change", refresh);
  if (path) path.addEventListener("input", soon);
}

document.addEventListener("DOMContentLoaded", () => {
  const figure = document.getElementById("qr-preview");
  const form = document.getElementById("code-form");
  if (figure && form) followForm(figure, form);
});
