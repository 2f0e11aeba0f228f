// The member pages as an installable app: registers the service worker (scope /member/), which
// keeps the card page for airplane mode; on sign-out, forgets this phone's card (the kept page
// and the offline key), so the next person to use the phone finds neither.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script) return;
  const OFFLINE_KEY = "rewards.offlineCard"; // card.js keeps the offline key under this name
  const { worker, scope, cardUrl, signOut } = script.dataset;

  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(worker, { scope }).catch(() => {
      /* no offline card on this browser; the pages work as before */
    });
  }

  async function forgetCard() {
    try {
      localStorage.removeItem(OFFLINE_KEY);
    } catch (error) {
      /* nothing was kept */
    }
    if (!window.caches) return;
    for (const name of await caches.keys()) {
      if (name.startsWith("member-card-")) await (await caches.open(name)).delete(cardUrl);
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.forgotten || new URL(form.action, location.href).pathname !== signOut) return;
    event.preventDefault();
    form.dataset.forgotten = "true";
    const giveUp = new Promise((resolve) => setTimeout(resolve, 1500));
    Promise.race([forgetCard(), giveUp])
      .catch(() => null)
      .then(() => form.submit());
  });
})();
