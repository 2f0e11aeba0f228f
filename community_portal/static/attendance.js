// The attendance page: filter the tick list as the secretary types, count ticks, and identify
// scanned codes (USB scanner or camera) into the "scanned" list. Every form still works without
// it (server-side ?q= search; pasting numbers).
document.addEventListener("DOMContentLoaded", () => {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  // -- the tick list ---------------------------------------------------------------------
  const filter = document.getElementById("member-filter");
  const search = document.getElementById("tick-search");
  const tickForm = document.getElementById("tick-form");
  const rows = Array.from(document.querySelectorAll("#tick-list li"));
  const tickCount = document.getElementById("tick-count");
  const tickVisible = document.getElementById("tick-visible");
  const tickNone = document.getElementById("tick-none");

  function countTicks() {
    if (tickCount) tickCount.textContent = tickForm.querySelectorAll("input[name=member_nos]:checked").length;
  }
  function applyFilter() {
    const text = filter.value.trim().toUpperCase();
    let shown = 0;
    for (const row of rows) {
      row.hidden = Boolean(text) && !row.dataset.search.includes(text);
      if (!row.hidden) shown += 1;
    }
    if (tickNone) tickNone.hidden = shown > 0;
    if (tickVisible) tickVisible.checked = false;
  }
  if (filter && rows.length) {
    filter.addEventListener("input", applyFilter);
    // The whole roster is on the page: filter here and keep the ticks; otherwise ask the server.
    search.addEventListener("submit", (event) => {
      if (search.dataset.complete === "true") {
        event.preventDefault();
        applyFilter();
      }
    });
  }
  if (tickForm) tickForm.addEventListener("change", countTicks);
  if (tickVisible) {
    tickVisible.hidden = false;
    tickVisible.addEventListener("change", () => {
      for (const row of rows) {
        const box = row.querySelector("input[name=member_nos]");  // recorded ones have none
        if (!row.hidden && box) box.checked = tickVisible.checked;
      }
      countTicks();
    });
  }

  // -- scanning at the door --------------------------------------------------------------
  const code = document.getElementById("scan-code");
  const list = document.getElementById("scanned-list");
  const empty = document.getElementById("scanned-empty");
  const message = document.getElementById("scan-message");
  const submit = document.getElementById("scan-submit");
  const scanCount = document.getElementById("scan-count");
  let pending = Promise.resolve();

  function say(text, kind) {
    message.textContent = text;
    message.dataset.kind = kind;
  }
  function countScans() {
    const n = list.children.length;
    scanCount.textContent = n;
    list.hidden = n === 0;
    empty.hidden = n > 0;
    submit.disabled = n === 0;
  }
  function addScanned(member) {
    const known = list.querySelector(`li[data-member-no="${CSS.escape(member.member_no)}"]`);
    if (known) {
      say(`${member.name}（${member.member_no}）已在列表中。`, "info");
      return;
    }
    const item = document.createElement("li");
    item.dataset.memberNo = member.member_no;
    item.className = "is-new";
    const who = document.createElement("span");
    who.className = "who";
    const name = document.createElement("strong");
    name.textContent = member.name;
    const number = document.createElement("span");
    number.className = "muted";
    number.textContent = member.member_no;
    who.append(name, " ", number);
    item.append(who);
    if (member.already_recorded) {
      const badge = document.createElement("span");
      badge.className = "badge badge-suspended";
      badge.textContent = "此前已登记";
      item.append(" ", badge);
    }
    for (const [field, value] of [["member_nos", member.member_no], ["names", member.name]]) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = field;
      input.value = value;
      item.append(input);
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove small-button";
    remove.textContent = "移除";
    item.append(" ", remove);
    list.prepend(item);
    countScans();
    say(
      member.already_recorded
        ? `${member.name}（${member.member_no}）此前已登记，提交时不会重复记分。`
        : `已识别：${member.name}（${member.member_no}）`,
      member.already_recorded ? "info" : "ok",
    );
  }
  async function identify(text) {
    let response = null;
    let body = null;
    try {
      response = await fetch(code.dataset.identifyUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ code: text }),
      });
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (response && response.ok && body && body.member_no) {
      addScanned(body);
    } else if (body && body.error) {
      say(body.error.message, "error");
    } else if (response && (response.status === 400 || response.redirected)) {
      say("页面已过期或登录已失效，请刷新页面后再扫码。", "error");
    } else {
      say("网络不通，没能识别这个码，请稍后再扫一次。", "error");
    }
  }
  function queue(text) {
    // A scanner can be faster than the network: identify one code after another, in order.
    pending = pending.then(() => identify(text));
  }

  if (code && list) {
    code.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing) return;
      event.preventDefault();
      const text = code.value.trim();
      code.value = ""; // ready for the next scan at once
      if (text) queue(text);
    });
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button.remove");
      if (!button) return;
      button.closest("li").remove();
      countScans();
      code.focus();
    });
    // A scan typed while the focus is elsewhere (a button, the page) still lands in the field.
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (target === code || target.closest("input, textarea, select, [contenteditable]")) return;
      if (event.key.length !== 1 || event.key === " " || event.ctrlKey || event.metaKey || event.altKey) return;
      code.focus();
    });
    countScans();
    const camera = document.getElementById("camera-button");
    if (camera && window.CardScanner) {
      window.CardScanner.attach({
        button: camera,
        panel: document.getElementById("scanner"),
        video: document.getElementById("scanner-video"),
        status: document.getElementById("scanner-status"),
        closeButton: document.getElementById("scanner-close"),
        decoderUrl: camera.dataset.decoder,
        wasmUrl: camera.dataset.wasm,
        continuous: true,
        messages: { aim: "请把党员的二维码对准摄像头，可连续扫描多人" },
        onCode: queue,
        onClose: () => code.focus(),
      });
    }
  }
  document.documentElement.dataset.attendanceReady = "true";
});
