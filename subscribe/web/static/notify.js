// Subscription form: show the endpoint only for webhooks and the digest time only for
// digests. Without JavaScript every field stays visible and the server ignores the rest.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector(".subscription-form");
  if (!form) return;
  const update = () => {
    const channel = form.querySelector("input[name=channel]:checked");
    const cadence = form.querySelector("[data-cadence]");
    for (const field of form.querySelectorAll("[data-show-for-channel]")) {
      field.hidden = !channel || channel.value !== field.dataset.showForChannel;
    }
    for (const field of form.querySelectorAll("[data-show-for-cadence]")) {
      field.hidden = !field.dataset.showForCadence.split(" ").includes(cadence.value);
    }
  };
  form.addEventListener("change", update);
  update();
});
