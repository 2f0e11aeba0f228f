// Camera scanning of card QR codes, shared by the merchant counter and the attendance page.
//
//   const scanner = window.CardScanner.attach({
//     button, panel, video, status, closeButton,  // elements: the (hidden) camera button, the
//                                                 // panel holding the video, status line, close
//     decoderUrl, wasmUrl,   // the bundled ZXing decoder (served by the app, never a CDN)
//     onCode(text),          // a code was read
//     onClose(),             // optional: the camera was closed by hand
//     continuous,            // optional: keep scanning after a code (a queue at the door)
//     messages,              // optional: {aim, opening, noCamera, noDecoder} wording
//   });
//
// Returns null where the browser has no camera API (e.g. a page not served over HTTPS): the
// button then stays hidden, and the USB scanner and typing remain.
(function () {
  "use strict";

  const MESSAGES = {
    opening: "正在打开摄像头…",
    aim: "请把会员的二维码对准摄像头",
    noCamera: "无法打开摄像头：请在浏览器中允许使用摄像头，或改用扫码枪、手工输入卡号。",
    noDecoder: "扫码组件加载失败，请改用扫码枪或手工输入卡号。",
  };
  // In continuous mode the same code stays in view for a while: read it once.
  const REPEAT_PAUSE_MS = 3000;
  const FRAME_PAUSE_MS = 120;

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
  // bundled with the app (its .wasm is served by the app too).
  async function makeDecoder(video, decoderUrl, wasmUrl) {
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) {
          // Members show a QR, or the offline code's Code 128 barcode.
          const wanted = ["qr_code", "code_128"].filter((f) => formats.includes(f));
          const detector = new window.BarcodeDetector({ formats: wanted });
          return async () => {
            const found = await detector.detect(video);
            return found.length ? found[0].rawValue : null;
          };
        }
      } catch (error) {
        // fall through to the bundled decoder
      }
    }
    await loadScript(decoderUrl);
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
        formats: ["QRCode", "Code128"],
        maxNumberOfSymbols: 1,
        tryHarder: true,
      });
      const hit = results.find((result) => result.isValid);
      return hit ? hit.text : null;
    };
  }

  function attach(options) {
    const { button, panel, video, status, closeButton, onCode } = options;
    const messages = Object.assign({}, MESSAGES, options.messages || {});
    if (!button || !panel || !video || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return null;
    }
    button.hidden = false;

    let stream = null;
    let scanning = false;
    let decoder = null;
    let last = { text: "", at: 0 };

    function say(text) {
      if (status) status.textContent = text;
    }

    function stop() {
      scanning = false;
      if (stream) stream.getTracks().forEach((track) => track.stop());
      stream = null;
      video.srcObject = null;
      panel.hidden = true;
    }

    function isRepeat(text) {
      const now = Date.now();
      const repeat = text === last.text && now - last.at < REPEAT_PAUSE_MS;
      last = { text, at: now };
      return repeat;
    }

    async function start() {
      panel.hidden = false;
      scanning = true;
      say(messages.opening);
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: "environment" },
          audio: false,
        });
      } catch (error) {
        say(messages.noCamera);
        return;
      }
      video.srcObject = stream;
      await video.play().catch(() => {});
      try {
        decoder = decoder || (await makeDecoder(video, options.decoderUrl, options.wasmUrl));
      } catch (error) {
        say(messages.noDecoder);
        if (stream) stream.getTracks().forEach((track) => track.stop());
        return;
      }
      say(messages.aim);
      while (scanning) {
        let text = null;
        try {
          text = await decoder();
        } catch (error) {
          text = null; // an unreadable frame: try the next one
        }
        if (text && scanning) {
          text = text.trim();
          if (!options.continuous) {
            stop();
            onCode(text);
            return;
          }
          if (!isRepeat(text)) onCode(text);
        }
        await new Promise((resolve) => setTimeout(resolve, FRAME_PAUSE_MS));
      }
    }

    button.addEventListener("click", () => {
      if (!scanning) start();
    });
    if (closeButton) {
      closeButton.addEventListener("click", () => {
        stop();
        if (options.onClose) options.onClose();
      });
    }
    return { start, stop, say };
  }

  window.CardScanner = { attach };
})();
