// The merchant counter: scanner-friendly focus, one press to confirm, camera scanning (through
// the shared scanner.js, loaded first), and small page helpers (print, copy, confirm dialogs).
// Every page works without it; this only speeds up.
(function () {
  "use strict";

  const code = document.getElementById("code");
  const amount = document.getElementById("amount");
  const checkoutForm = document.getElementById("checkout-form");
  const quote = document.querySelector("[data-testid=quote]");

  // The server marks the field to continue in with autofocus. Selecting a kept code means the
  // next scan replaces it instead of being appended to it.
  const start = document.querySelector("[autofocus]");
  if (start) {
    start.focus();
    if (start.select && start.value) start.select();
  }
  if (code) {
    code.addEventListener("focus", () => code.select());
  }

  // A shown quote belongs to the previous scan: a new scan clears it and its amount.
  function startNewScan() {
    if (quote && !quote.hidden) {
      quote.hidden = true;
      if (amount) amount.value = "";
    }
  }

  if (code && amount && checkoutForm) {
    // A USB scanner types the code and presses Enter: go on to the amount, or preview at once
    // when the amount is already there (e.g. the member refreshed an expired code).
    code.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing) return;
      if (!code.value.trim()) {
        event.preventDefault();
        return;
      }
      if (!amount.value.trim()) {
        event.preventDefault();
        amount.focus();
      }
    });
    code.addEventListener("input", startNewScan);
    // While the confirm button has focus, typed characters are the next customer's scan.
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (target === code || target === amount) return;
      if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
      if (event.key.length !== 1 || event.key === " ") return; // Space presses the button
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      startNewScan();
      code.value = "";
      code.focus(); // the key's character lands in the code field
    });
  }

  // One press records one sale; the server's idempotency key covers what gets through anyway.
  for (const form of document.querySelectorAll("#confirm-form")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sent) {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      const button = form.querySelector("button[type=submit]");
      if (button) {
        button.setAttribute("aria-disabled", "true");
        button.classList.add("is-sending");
      }
    });
  }
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    for (const form of document.querySelectorAll("#confirm-form")) delete form.dataset.sent;
  });

  // Keyboard handling is in place: a scan typed from now on is handled (browser tests wait for it).
  document.documentElement.dataset.counterReady = "true";

  // -- camera scanning (rewards/static/scanner.js) -----------------------------------------
  function useScannedCode(text) {
    startNewScan();
    code.value = text;
    if (amount && amount.value.trim()) {
      checkoutForm.requestSubmit();
    } else if (amount) {
      amount.focus();
    }
  }

  const cameraButton = document.getElementById("camera-button");
  if (code && cameraButton && window.CardScanner) {
    window.CardScanner.attach({
      button: cameraButton,
      panel: document.getElementById("scanner"),
      video: document.getElementById("scanner-video"),
      status: document.getElementById("scanner-status"),
      closeButton: document.getElementById("scanner-close"),
      decoderUrl: cameraButton.dataset.decoder,
      wasmUrl: cameraButton.dataset.wasm,
      onCode: useScannedCode,
      onClose: () => code.focus(),
    });
  }
})();
