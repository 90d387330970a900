// Scenario pages, small enhancements only: everything works without JavaScript.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  keepTypedNameInBuilderLinks();
  followBundleProgress();
});

// The builder carries its state in links; without this, a name typed into the save form
// and not yet saved would be lost when the user pins or filters next.
function keepTypedNameInBuilderLinks() {
  const form = document.querySelector(".scenario-form");
  if (!form) return;
  const fields = ["name", "description"].map((name) => form.elements[name]);
  const carry = (url) => {
    for (const field of fields) {
      if (field.value) url.searchParams.set(field.name, field.value);
      else url.searchParams.delete(field.name);
    }
  };
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-builder-link]");
    if (!link) return;
    const url = new URL(link.href, window.location.href);
    carry(url);
    link.href = url.toString();
  });
  const search = document.querySelector("form.search-form");
  if (search) {
    search.addEventListener("submit", () => {
      for (const field of fields) {
        let hidden = search.querySelector(`input[type=hidden][name="${field.name}"]`);
        if (!hidden) {
          hidden = document.createElement("input");
          hidden.type = "hidden";
          hidden.name = field.name;
          search.append(hidden);
        }
        hidden.value = field.value;
      }
    });
  }
}

// Bundles still queued or building: update their progress from the API, and reload the
// page once one is finished (it then shows its size, skipped files and download link).
function followBundleProgress() {
  const waiting = [...document.querySelectorAll("[data-bundle-id]")].filter((row) =>
    ["queued", "building"].includes(row.dataset.status),
  );
  if (!waiting.length) return;
  const check = async () => {
    for (const row of waiting) {
      const response = await window.subscribeApi(`/api/v1/bundles/${row.dataset.bundleId}`);
      if (!response.ok) return;
      const bundle = await response.json();
      if (!["queued", "building"].includes(bundle.status)) {
        window.location.reload();
        return;
      }
      const bar = row.querySelector("progress");
      if (bar) {
        bar.max = bundle.progress.files_total || 1;
        bar.value = bundle.progress.files_done;
      }
    }
    window.setTimeout(check, 3000);
  };
  window.setTimeout(check, 3000);
}
