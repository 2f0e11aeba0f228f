// The card page (出示卡码). The offline code is computed on the phone: the card number and an
// RFC 6238 TOTP (HMAC-SHA1 by WebCrypto, 30 s, 6 digits) over the secret this phone received
// once, kept in localStorage (never in a cookie or in the page). It shows as QR, Code 128 and
// digits, rotates at each period's start, and works in airplane mode. Online, the page asks
// every few seconds whether the shown code was used at a counter and says so (已使用).
(function () {
  "use strict";

  // -- RFC 6238 --------------------------------------------------------------------------------
  const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const HASHES = { SHA1: "SHA-1", SHA256: "SHA-256", SHA512: "SHA-512" };

  function base32Bytes(text) {
    const bytes = [];
    let value = 0;
    let bits = 0;
    for (const char of text.replace(/=+$/, "").toUpperCase()) {
      const index = BASE32.indexOf(char);
      if (index < 0) throw new Error("not base32");
      value = (value << 5) | index;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((value >>> bits) & 0xff);
        value &= (1 << bits) - 1;
      }
    }
    return new Uint8Array(bytes);
  }

  // The code of counter ``counter`` (Unix time // period): HMAC over the 8-byte big-endian
  // counter, dynamic truncation, ``digits`` decimal digits.
  async function totp(secret, counter, digits = 6, algorithm = "SHA1") {
    const key = await crypto.subtle.importKey(
      "raw",
      base32Bytes(secret),
      { name: "HMAC", hash: HASHES[algorithm] || "SHA-1" },
      false,
      ["sign"]
    );
    const message = new DataView(new ArrayBuffer(8));
    message.setUint32(0, Math.floor(counter / 2 ** 32));
    message.setUint32(4, counter % 2 ** 32);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, message.buffer));
    const offset = mac[mac.length - 1] & 0x0f;
    const value =
      ((mac[offset] & 0x7f) << 24) |
      (mac[offset + 1] << 16) |
      (mac[offset + 2] << 8) |
      mac[offset + 3];
    return String(value % 10 ** digits).padStart(digits, "0");
  }

  function periodAt(milliseconds, seconds) {
    return Math.floor(milliseconds / 1000 / seconds);
  }

  window.offlineCardCode = { totp, base32Bytes, periodAt };

  // -- the page --------------------------------------------------------------------------------
  const page = document.querySelector("[data-card-page]");
  if (!page) return;
  const STORAGE_KEY = "rewards.offlineCard";
  const CLOCK_TOLERANCE_SECONDS = 15;
  const cardNumber = page.dataset.cardNumber;
  const panel = page.querySelector("[data-panel=offline]");
  const onlinePanel = page.querySelector("[data-panel=online]");
  const connection = page.querySelector("[data-connection]");
  const find = (name) => panel && panel.querySelector(`[data-${name}]`);
  const ui = panel && {
    area: find("code-area"),
    qr: find("qr"),
    barcode: find("barcode"),
    digitsCard: find("digits-card"),
    digitsCode: find("digits-code"),
    stamp: find("used-stamp"),
    usedBanner: find("used-banner"),
    nextIn: find("next-in"),
    countdown: find("countdown"),
    bar: find("timer-bar"),
    state: find("offline-state"),
    justUsed: find("just-used"),
    clockWarning: find("clock-warning"),
    rekey: find("rekey"),
    bright: find("bright"),
    brightExit: find("bright-exit"),
  };
  const state = {
    key: null,
    period: null,
    used: false,
    announced: new Set(),
    onlineToken: null,
    rendering: false,
    wakeLock: null,
    reloaded: false,
    gone: false, // the card was suspended or replaced while the page was open
  };

  if (page.dataset.cardStatus === "none") forgetKey();

  function storedKey() {
    try {
      const key = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
      return key && key.secret && key.card_number ? key : null;
    } catch (error) {
      return null;
    }
  }

  function storeKey(key) {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(key));
      return true;
    } catch (error) {
      return false; // private mode: the code still shows now, not offline later
    }
  }

  function forgetKey() {
    try {
      localStorage.removeItem(STORAGE_KEY);
    } catch (error) {
      /* nothing was kept */
    }
  }

  function say(text, kind) {
    ui.state.textContent = text;
    ui.state.className = "offline-state" + (kind ? " " + kind : "");
  }

  function isJson(response) {
    return (response.headers.get("Content-Type") || "").includes("application/json");
  }

  function csrfToken() {
    const meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }

  async function fetchKey() {
    say("正在为本机启用离线卡码…");
    let response;
    try {
      response = await fetch(page.dataset.keyUrl, {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (error) {
      say("没有网络，暂时无法启用离线卡码。请联网后再打开本页。", "warn");
      return null;
    }
    const body = isJson(response) ? await response.json() : null;
    if (!response.ok || !body || !body.secret) {
      const message = body && body.error ? body.error.message : "暂时无法启用离线卡码，请刷新页面重试。";
      say(message, "error");
      return null;
    }
    if (!storeKey(body)) say("此浏览器不允许保存数据：离线卡码现在可用，但断网后无法显示。", "warn");
    return body;
  }

  // -- drawing the code ------------------------------------------------------------------------

  function drawQr(code) {
    const qr = qrcode(0, "Q");
    qr.addData(code, "Numeric");
    qr.make();
    ui.qr.innerHTML = qr.createSvgTag({ cellSize: 4, margin: 16, scalable: true });
    ui.qr.firstElementChild.setAttribute("aria-hidden", "true");
  }

  function drawBarcode(code) {
    JsBarcode(ui.barcode, code, {
      format: "CODE128",
      width: 2,
      height: 70,
      margin: 20, // the quiet zone: ten modules either side
      displayValue: false,
      background: "#ffffff",
      lineColor: "#000000",
    });
  }

  function drawDigits(code) {
    const number = code.slice(0, -state.key.digits);
    const otp = code.slice(-state.key.digits);
    ui.digitsCard.textContent = number.replace(/(\d{4})(?=\d)/g, "$1 ");
    ui.digitsCode.textContent = otp.replace(/(\d{3})(?=\d)/g, "$1 ");
  }

  async function show(period) {
    state.rendering = true;
    try {
      const otp = await totp(state.key.secret, period, state.key.digits, state.key.algorithm);
      const code = state.key.card_number + otp;
      drawQr(code);
      drawBarcode(code);
      drawDigits(code);
      state.period = period;
      markUsed(false);
      ui.area.hidden = false;
      panel.dataset.period = String(period);
    } catch (error) {
      ui.area.hidden = true;
      say("此浏览器无法生成离线卡码（需要较新的浏览器，并通过 https 访问本站）。请出示实体卡。", "error");
    } finally {
      state.rendering = false;
    }
  }

  function markUsed(used) {
    state.used = used;
    if (used) state.announced.add(state.period);
    ui.area.classList.toggle("is-used", used);
    ui.stamp.hidden = !used;
    ui.usedBanner.hidden = !used;
  }

  function tick() {
    if (!state.key) return;
    const now = Date.now();
    const seconds = state.key.period;
    const left = seconds - (Math.floor(now / 1000) % seconds);
    ui.countdown.textContent = String(left);
    ui.nextIn.textContent = String(left);
    ui.bar.style.width = `${(left / seconds) * 100}%`;
    const period = periodAt(now, seconds);
    if (period !== state.period && !state.rendering) show(period);
  }

  async function useKey(key) {
    state.key = key;
    ui.rekey.hidden = true;
    await show(periodAt(Date.now(), key.period));
    tick();
    if (ui.area.hidden) return;
    say("请向收银员出示此码。");
    if (!("serviceWorker" in navigator)) {
      say("此浏览器不能保存本页：没有网络时请出示实体卡。", "warn");
    } else if (storedKey()) {
      navigator.serviceWorker.ready.then(() => {
        say("✓ 本机已可离线出示卡码：没有网络（飞行模式）也能用。", "ok");
        document.documentElement.dataset.offlineReady = "true";
      });
    }
  }

  // The key of this phone was replaced (the member enabled offline codes on another phone):
  // its codes no longer pay. Asking again would rotate the other phone's key, so the member
  // decides.
  function keyReplaced() {
    const key = state.key || storedKey();
    // Kept, marked: a key that is merely missing would be fetched again at the next visit.
    if (key) storeKey({ ...key, replaced: true });
    state.key = null;
    state.period = null;
    ui.area.hidden = true;
    say("本机的离线卡码已失效（可能在另一部手机上启用了离线卡码）。", "warn");
    ui.rekey.hidden = false;
  }

  function cardGone(status) {
    if (state.gone) return;
    state.gone = true;
    forgetKey();
    page.querySelectorAll("[role=tablist], [data-panel]").forEach((node) => {
      node.hidden = true;
    });
    const notice = document.createElement("p");
    notice.className = "notice";
    notice.textContent =
      status === "suspended"
        ? "此卡已被社区暂停使用，商家不会给予优惠；如有疑问请联系所在社区。"
        : "您已没有有效的动力卡，请联系所在社区办理。";
    connection.after(notice);
    state.key = null;
  }

  // -- was it used? ----------------------------------------------------------------------------

  function onlineShown() {
    return onlinePanel && !onlinePanel.hidden;
  }

  async function poll() {
    if (document.hidden || !navigator.onLine || state.gone) return;
    const body = {};
    const sentKey = state.key;
    if (state.key && state.period !== null) body.period = state.period;
    if (onlineShown() && state.onlineToken) body.token = state.onlineToken;
    let response;
    try {
      response = await fetch(page.dataset.statusUrl, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (error) {
      showConnection(false);
      return;
    }
    showConnection(true);
    if (response.ok && isJson(response)) apply(await response.json(), sentKey);
  }

  // What the server says of the codes on screen; ``sentKey``: the key when the question left.
  function apply(status, sentKey) {
    if (status.card_status !== "active") return cardGone(status.card_status);
    if (status.card_number !== cardNumber) {
      // A new card was issued while the page was open: the page and its key are of the old one.
      if (!state.reloaded) location.reload();
      state.reloaded = true;
      return;
    }
    if (sentKey && sentKey === state.key && status.key_id !== sentKey.key_id) return keyReplaced();
    const offline = status.offline;
    if (offline && offline.period === state.period && offline.used && !state.used) markUsed(true);
    if (offline && offline.previous_used && !state.announced.has(offline.period - 1)) {
      state.announced.add(offline.period - 1);
      flash(ui.justUsed);
    }
    if (status.online_used) {
      state.onlineToken = null;
      flash(onlinePanel.querySelector("[data-online-used]"));
      onlinePanel.querySelector("[data-code-url]").dispatchEvent(new Event("phone-code:renew"));
    }
    const skew = Math.round(Date.now() / 1000 - status.server_time);
    ui.clockWarning.hidden = Math.abs(skew) <= CLOCK_TOLERANCE_SECONDS;
    ui.clockWarning.textContent = `手机时间与标准时间相差约 ${Math.abs(skew)} 秒，离线卡码可能不被收银台接受。请在手机设置中打开“自动设置时间”。`;
  }

  function flash(node) {
    if (!node) return;
    node.hidden = false;
    clearTimeout(node.flashTimer);
    node.flashTimer = setTimeout(() => {
      node.hidden = true;
    }, 8000);
  }

  function showConnection(online) {
    connection.hidden = online;
    connection.textContent = online ? "" : "当前没有网络：离线卡码照常可用，请收银员扫码或输入数字。";
  }

  // -- tabs and the bright view ----------------------------------------------------------------

  function setUpTabs() {
    const tabs = Array.from(page.querySelectorAll("[role=tab]"));
    function select(tab) {
      for (const other of tabs) {
        const chosen = other === tab;
        other.setAttribute("aria-selected", String(chosen));
        other.tabIndex = chosen ? 0 : -1;
        document.getElementById(other.getAttribute("aria-controls")).hidden = !chosen;
      }
      if (tab.id === "tab-online") {
        onlinePanel.querySelector("[data-code-url]").dispatchEvent(new Event("phone-code:renew"));
      }
    }
    tabs.forEach((tab, index) => {
      tab.addEventListener("click", () => select(tab));
      tab.addEventListener("keydown", (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        const next = tabs[(index + step + tabs.length) % tabs.length];
        select(next);
        next.focus();
      });
    });
    if (onlinePanel) {
      onlinePanel.addEventListener("phone-code:shown", (event) => {
        state.onlineToken = event.detail.token;
      });
    }
  }

  async function enterBright() {
    ui.area.classList.add("bright");
    document.body.classList.add("bright-on");
    try {
      if (ui.area.requestFullscreen) await ui.area.requestFullscreen({ navigationUI: "hide" });
    } catch (error) {
      /* the white view fills the window anyway */
    }
    try {
      if (navigator.wakeLock) state.wakeLock = await navigator.wakeLock.request("screen");
    } catch (error) {
      state.wakeLock = null; // battery saver, or not allowed: the screen may dim
    }
    ui.brightExit.focus();
  }

  function leaveBright() {
    if (!ui.area.classList.contains("bright")) return;
    ui.area.classList.remove("bright");
    document.body.classList.remove("bright-on");
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    if (state.wakeLock) state.wakeLock.release().catch(() => {});
    state.wakeLock = null;
    ui.bright.focus();
  }

  function setUpBright() {
    ui.bright.addEventListener("click", enterBright);
    ui.brightExit.addEventListener("click", leaveBright);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") leaveBright();
    });
    document.addEventListener("fullscreenchange", () => {
      if (!document.fullscreenElement) leaveBright();
    });
    document.addEventListener("visibilitychange", async () => {
      // A wake lock ends when the page is hidden; take it again on return.
      if (!document.hidden && ui.area.classList.contains("bright") && navigator.wakeLock) {
        state.wakeLock = await navigator.wakeLock.request("screen").catch(() => null);
      }
    });
  }

  // -- start -----------------------------------------------------------------------------------

  async function start() {
    setUpTabs();
    setUpBright();
    ui.rekey.addEventListener("click", async () => {
      ui.rekey.hidden = true;
      const key = await fetchKey();
      if (key) await useKey(key);
      else ui.rekey.hidden = false;
    });
    window.addEventListener("online", () => {
      showConnection(true);
      if (!state.key && !storedKey()) firstKey();
    });
    window.addEventListener("offline", () => showConnection(false));
    showConnection(navigator.onLine);
    setInterval(tick, 500);
    setInterval(poll, Number(page.dataset.pollSeconds || 2) * 1000);
    if (!window.crypto || !crypto.subtle) {
      say("此浏览器无法生成离线卡码（需要通过 https 访问本站）。请出示联网卡码或实体卡。", "error");
      return;
    }
    await firstKey();
    page.dataset.ready = "true";
  }

  // The key kept on this phone, or a new one when none is kept for this card: asking again
  // rotates the secret, so only then.
  async function firstKey() {
    let key = storedKey();
    if (key && key.card_number === cardNumber && key.replaced) return keyReplaced();
    if (!key || key.card_number !== cardNumber) {
      key = null;
      if (navigator.onLine) key = await fetchKey();
      else say("首次使用离线卡码，需要联网打开本页一次；之后没有网络也能出示。", "warn");
    }
    if (key) await useKey(key);
  }

  if (page.dataset.cardStatus === "active" && panel) start();
})();
