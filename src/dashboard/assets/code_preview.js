// The code form's live preview: when the template or a new code's short link path changes, the
// image is asked for again from the dashboard (data-preview-url, drawn by the API's image code)
// and the caption says what it encodes. Without this script the form shows the image as the
// page was made; saving works the same.
"use strict";

// A short link path the API accepts (docs/api.md); others are not asked for.
const PATH = /^[A-Za-z0-9\-_.~%]{1,128}$/;
const TYPING_PAUSE_MS = 300;

function followForm(figure, form) {
  const image = figure.querySelector("img");
  const url = figure.querySelector("#qr-preview-url");
  const note = figure.querySelector("#qr-preview-note");
  const template = form.elements.namedItem("templateId");
  const path = form.elements.namedItem("displayId");

  const refresh = () => {
    const query = new URLSearchParams();
    if (figure.dataset.code) {
      query.set("code", figure.dataset.code);
    } else {
      const typed = path ? path.value.trim() : "";
      if (typed && !PATH.test(typed)) return; // saving says what is wrong with it
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
