// Small enhancements only; every page works without JavaScript.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Phone layout: the menu button shows and hides the navigation.
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("site-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
  // Selects marked data-autosubmit (the sort order) apply at once; the button they
  // come with is for browsers without JavaScript.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
    const button = select.form.querySelector("[data-autosubmit-button]");
    if (button) button.hidden = true;
  }
});

// For page groups: fetch() to /api/v1 with the session's CSRF token.
window.subscribeApi = (path, options = {}) => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const headers = { "X-CSRF-Token": token, ...(options.headers || {}) };
  if (options.body && typeof options.body !== "string") {
    headers["Content-Type"] = "application/json";
    options = { ...options, body: JSON.stringify(options.body) };
  }
  return fetch(path, { credentials: "same-origin", ...options, headers });
};
