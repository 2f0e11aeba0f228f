// The publish button carries the previewed values: once the form above is changed, it waits
// for a new preview.
(function () {
  "use strict";
  const form = document.getElementById("policy-form");
  const publish = document.getElementById("publish-form");
  if (!form || !publish) return;
  form.addEventListener("input", () => {
    publish.querySelector("button[type=submit]").disabled = true;
    publish.querySelector("[data-testid=stale]").hidden = false;
  });
})();
