// The communities list follows the scope; the chosen merchant's existing agreements are marked.
(function () {
  "use strict";
  const form = document.getElementById("sign-form");
  const box = document.getElementById("communities");
  const data = document.getElementById("signed-communities");
  const signed = JSON.parse(data.textContent);
  const detail = data.dataset.detailUrl.replace(/0$/, "");
  const scope = () => form.querySelector("input[name=scope]:checked");
  const follow = () => { box.hidden = scope() && scope().value === "all"; };
  const mark = () => {
    const taken = signed[form.merchant.value] || {};
    for (const row of box.querySelectorAll("[data-code]")) {
      const link = row.querySelector("[data-signed-mark]");
      const id = taken[row.dataset.code];
      link.hidden = !id;
      if (id) link.href = detail + id;
    }
    const all = form.querySelector("[data-signed-all]");
    all.hidden = !taken.all;
    if (taken.all) all.querySelector("a").href = detail + taken.all;
  };
  for (const radio of form.querySelectorAll("input[name=scope]")) radio.addEventListener("change", follow);
  form.merchant.addEventListener("change", mark);
  follow();
})();
