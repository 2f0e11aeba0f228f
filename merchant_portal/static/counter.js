// The merchant counter: scanner-friendly focus, one press to confirm, camera scanning, and small
// page helpers (print, copy, confirm dialogs). Every page works without it; this only speeds up.
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

  for (const button of document.querySelectorAll("[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
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

  // Keyboard handling is in place: a scan typed from now on is handled (browser tests wait for it).
  document.documentElement.dataset.counterReady = "true";

  // -- camera scanning --------------------------------------------------------------------
  const cameraButton = document.getElementById("camera-button");
  const scanner = document.getElementById("scanner");
  const video = document.getElementById("scanner-video");
  const status = document.getElementById("scanner-status");
  const closeButton = document.getElementById("scanner-close");
  if (!cameraButton || !scanner || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return; // no camera API (e.g. a page not served over HTTPS): the scanner and typing remain
  }
  cameraButton.hidden = false;

  let stream = null;
  let scanning = false;

  function say(text) {
    status.textContent = text;
  }

  function stopScanner() {
    scanning = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    scanner.hidden = true;
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      if (window.ZXingWASM) return resolve();
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve();
      script.onerror = () => reject(new Error("decoder script failed to load"));
      document.head.appendChild(script);
    });
  }

  // The browser's own BarcodeDetector where it reads QR codes; otherwise the ZXing decoder
  // bundled with the app (its .wasm is served by the app too, never fetched from a CDN).
  async function makeDecoder() {
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) {
          const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
          return async () => {
            const found = await detector.detect(video);
            return found.length ? found[0].rawValue : null;
          };
        }
      } catch (error) {
        // fall through to the bundled decoder
      }
    }
    await loadScript(cameraButton.dataset.decoder);
    const wasmUrl = cameraButton.dataset.wasm;
    window.ZXingWASM.prepareZXingModule({
      overrides: {
        locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasmUrl : prefix + path),
      },
    });
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    return async () => {
      const width = video.videoWidth;
      const height = video.videoHeight;
      if (!width || !height) return null;
      canvas.width = width;
      canvas.height = height;
      context.drawImage(video, 0, 0, width, height);
      const results = await window.ZXingWASM.readBarcodes(context.getImageData(0, 0, width, height), {
        formats: ["QRCode"],
        maxNumberOfSymbols: 1,
        tryHarder: true,
      });
      const hit = results.find((result) => result.isValid);
      return hit ? hit.text : null;
    };
  }

  function useScannedCode(text) {
    startNewScan();
    code.value = text.trim();
    if (amount && amount.value.trim()) {
      checkoutForm.requestSubmit();
    } else if (amount) {
      amount.focus();
    }
  }

  async function startScanner() {
    scanner.hidden = false;
    scanning = true;
    say("正在打开摄像头…");
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment" },
        audio: false,
      });
    } catch (error) {
      say("无法打开摄像头：请在浏览器中允许使用摄像头，或改用扫码枪、手工输入卡号。");
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    let decode;
    try {
      decode = await makeDecoder();
    } catch (error) {
      say("扫码组件加载失败，请改用扫码枪或手工输入卡号。");
      if (stream) stream.getTracks().forEach((track) => track.stop());
      return;
    }
    say("请把会员的二维码对准摄像头");
    while (scanning) {
      let text = null;
      try {
        text = await decode();
      } catch (error) {
        text = null; // an unreadable frame: try the next one
      }
      if (text && scanning) {
        stopScanner();
        useScannedCode(text);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
  }

  cameraButton.addEventListener("click", () => {
    if (!scanning) startScanner();
  });
  closeButton.addEventListener("click", () => {
    stopScanner();
    code.focus();
  });
})();
