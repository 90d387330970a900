// Operators' dashboard: reload its live parts (leader, jobs, delivery queue) every few
// seconds, so a requested run or a new failure shows up without a page reload.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const first = document.querySelector("[data-live][data-refresh-seconds]");
  const seconds = first ? Number(first.dataset.refreshSeconds) : 0;
  if (!seconds) return;

  const refresh = async () => {
    // Not while the tab is hidden or while someone is about to press a button in it.
    if (document.hidden || document.activeElement?.closest("[data-live]")) return;
    let response;
    try {
      response = await fetch(window.location.pathname, { credentials: "same-origin" });
    } catch {
      return; // the server restarts or the network drops: try again next time
    }
    // Signed out meanwhile (a redirect to the login page): leave the page as it is.
    if (!response.ok || response.redirected) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of document.querySelectorAll("[data-live]")) {
      const replacement = fresh.querySelector(`[data-live="${part.dataset.live}"]`);
      if (replacement && replacement.innerHTML !== part.innerHTML) {
        part.innerHTML = replacement.innerHTML;
      }
    }
  };
  window.setInterval(refresh, seconds * 1000);
});
