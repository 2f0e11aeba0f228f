// Large text (大字模式, 适老化) on the member pages. The choice is a cookie kept on this phone
// across visits and sign-outs; the server reads it, so a page comes in the right size. This
// script applies it once more before the first paint, for the card page that the service worker
// kept for airplane mode (rendered in whatever size was chosen then), and switches the size at
// once, without a reload, when the 标准字 / 大字 buttons are pressed.
(function () {
  "use strict";
  const COOKIE = "text_size";
  const SIZES = ["standard", "large"];
  const YEAR_SECONDS = 365 * 24 * 3600;
  const root = document.documentElement;

  function chosen() {
    const match = document.cookie.match(/(?:^|;\s*)text_size=([^;]*)/);
    return match && SIZES.includes(match[1]) ? match[1] : null;
  }

  function remember(size) {
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `${COOKIE}=${size}; Path=/; Max-Age=${YEAR_SECONDS}; SameSite=Lax${secure}`;
  }

  function apply(size) {
    root.classList.toggle("large-text", size === "large");
    for (const button of document.querySelectorAll("[data-text-size] button[name=size]")) {
      button.setAttribute("aria-pressed", String(button.value === size));
    }
  }

  const shown = () => (root.classList.contains("large-text") ? "large" : "standard");
  apply(chosen() || shown()); // the buttons are not parsed yet: only the class, before paint

  document.addEventListener("DOMContentLoaded", () => apply(chosen() || shown()));
  // A page brought back by the back button may predate a switch made on another page.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) apply(chosen() || shown());
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-text-size] button[name=size]");
    if (!button || !SIZES.includes(button.value)) return;
    event.preventDefault(); // no round trip: the form is for phones without JavaScript
    remember(button.value);
    apply(button.value);
  });
})();
