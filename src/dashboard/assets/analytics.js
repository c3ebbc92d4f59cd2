// The analytics pages without a reload: the element with data-fragment-url is refreshed from
// that URL every few seconds. The server answers 304 while nothing changed (the ETag sent back
// in If-None-Match); otherwise the new fragment replaces the old, and a new total is announced
// in the polite live region #live-announcement.
"use strict";

const FRAGMENT_POLL_MS = 3000;

function totalOf(box) {
  return box.querySelector("[data-total-scans]")?.dataset.totalScans;
}

function refresh(box) {
  const url = box.dataset.fragmentUrl;
  const announcement = document.getElementById("live-announcement");
  let etag = null;
  const update = async () => {
    try {
      const headers = etag ? { "If-None-Match": etag } : {};
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store", headers });
      if (response.status !== 200) return; // 304: unchanged; else signed out or gone
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const figures = doc.body.querySelector(".figures");
      if (!figures) return; // not a fragment (the sign-in page after a redirect)
      etag = response.headers.get("ETag");
      const before = totalOf(box);
      box.replaceChildren(figures);
      const after = totalOf(box);
      if (announcement && after !== before) {
        announcement.textContent = `${after} scans in total`;
      }
    } catch (_) {
      // offline for a moment: try again at the next tick
    }
  };
  setInterval(update, FRAGMENT_POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-fragment-url]").forEach(refresh);
});
