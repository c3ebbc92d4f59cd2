// Live numbers without a reload: an element with data-live-url is filled from that JSON
// endpoint every few seconds; each child with data-count="field" shows data[field].
"use strict";

const POLL_MS = 3000;

function follow(box) {
  const url = box.dataset.liveUrl;
  const update = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok || !response.headers.get("content-type")?.startsWith("application/json")) {
        return; // signed out or gone: the next page load says so
      }
      const data = await response.json();
      for (const cell of box.querySelectorAll("[data-count]")) {
        const value = data[cell.dataset.count];
        if (value !== undefined) cell.textContent = String(value);
      }
    } catch (_) {
      // offline for a moment: try again at the next tick
    }
  };
  setInterval(update, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live-url]").forEach(follow);
});
