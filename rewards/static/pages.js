// Small helpers for back-office pages; every page works without them.
//   <button data-confirm="…">   asks before submitting
//   <button data-print hidden>  prints the page (shown only when the script runs)
//   <input type=checkbox data-select-all="name">  ticks every checkbox called "name"
//   <button data-copy="id" hidden>  copies the text of element #id (shown when it can)
//   <input name="form_once">  a form's one-time token, kept in the page's history entry
(function () {
  "use strict";
  for (const button of document.querySelectorAll("[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
  for (const all of document.querySelectorAll("[data-select-all]")) {
    const boxes = () => document.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`);
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
    });
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "已复制";
    });
  }
  // No double writes (rewards/forms_once.py). Each form's one-time token and what is typed in
  // it are kept in the page's history entry. A browser that fetches the form again when the
  // back button returns to it (no back-forward cache) gets a fresh token from the server, but
  // may restore what was typed: sent unchanged, it is the same submission again, so it goes
  // with the kept token (and the server answers "already submitted"); changed, it is a new one.
  // (The history entry is written on load and on input, never on submit, so a submission is
  // one navigation.)
  const onceInputs = Array.from(document.querySelectorAll("input[name=form_once]"));
  const navigation = performance.getEntriesByType("navigation")[0];
  const cameBack = navigation !== undefined && navigation.type === "back_forward";
  const keptBefore = (cameBack && history.state && history.state.formOnce) || {};
  const typedInto = (form) =>
    JSON.stringify(
      Array.from(new FormData(form))
        .filter(([name]) => name !== "form_once" && name !== "csrf_token")
        .map(([name, value]) => [name, typeof value === "string" ? value : [value.name, value.size]]),
    );
  const tokenToSend = (input, index) => {
    const kept = keptBefore[index];
    return kept && kept.typed === typedInto(input.form) ? kept.token : input.value;
  };
  const keep = () => {
    const formOnce = {};
    onceInputs.forEach((input, index) => {
      if (input.form) formOnce[index] = { token: tokenToSend(input, index), typed: typedInto(input.form) };
    });
    history.replaceState(Object.assign({}, history.state, { formOnce }), "");
  };
  onceInputs.forEach((input, index) => {
    if (!input.form) return;
    input.form.addEventListener("input", keep);
    input.form.addEventListener("change", keep);
    input.form.addEventListener("submit", () => {
      input.value = tokenToSend(input, index);
    });
  });
  if (onceInputs.length > 0) keep();
  document.documentElement.dataset.pagesReady = "true";
})();
