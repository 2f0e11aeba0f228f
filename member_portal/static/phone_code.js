// Keeps the phone QR fresh: a new code a few seconds before the shown one expires, at once when
// the page comes back into view, or when the member asks. The server signs every code.
// A box inside a hidden panel (the card page's tab) waits until it is shown; the card page asks
// for a new code with the event "phone-code:renew" and hears of each one by "phone-code:shown".
(function () {
  "use strict";
  const box = document.querySelector("[data-code-url]");
  if (!box) return;
  const image = box.querySelector(".qr-image");
  const countdown = box.querySelector("[data-countdown]");
  const renew = box.querySelector("[data-renew]");
  const RENEW_BEFORE_SECONDS = 5;
  let deadline = Date.now() + Number(box.dataset.remaining) * 1000;
  let fetching = false;

  function visible() {
    return !box.closest("[hidden]");
  }

  async function refresh() {
    if (fetching || !visible()) return;
    fetching = true;
    try {
      const response = await fetch(box.dataset.codeUrl, {
        headers: { Accept: "application/json" },
        cache: "no-store",
        credentials: "same-origin",
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
      image.innerHTML = body.svg; // segno's SVG, signed and rendered by the server
      deadline = Date.now() + body.remaining_seconds * 1000;
      box.classList.remove("stale");
      box.dispatchEvent(
        new CustomEvent("phone-code:shown", { bubbles: true, detail: { token: body.token } })
      );
    } catch (error) {
      box.classList.add("stale");
      countdown.textContent = "—";
    } finally {
      fetching = false;
    }
  }

  function tick() {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= RENEW_BEFORE_SECONDS) refresh();
    if (!box.classList.contains("stale")) countdown.textContent = String(Math.max(0, left));
  }

  setInterval(tick, 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  if (renew) renew.addEventListener("click", refresh);
  box.addEventListener("phone-code:renew", refresh);
  box.dataset.ready = "true";
})();
