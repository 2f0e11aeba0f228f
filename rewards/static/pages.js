// Small helpers for back-office pages; every page works without them.
//   <button data-confirm="…">   asks before submitting
//   <button data-print hidden>  prints the page (shown only when the script runs)
//   <input type=checkbox data-select-all="name">  ticks every checkbox called "name"
//   <button data-copy="id" hidden>  copies the text of element #id (shown when it can)
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
  document.documentElement.dataset.pagesReady = "true";
})();
