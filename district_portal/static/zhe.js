// How a typed 折 reads (the product's 折 convention: 88 → 88折, 90 → 9折, 5 → 0.5折).
(function () {
  "use strict";
  const reads = (p) => {
    if (!/^\d{1,3}$/.test(p)) return "";
    const n = Number(p);
    if (n < 1 || n > 100) return "须在 1 到 100 之间";
    if (n === 100) return "无折扣（原价）";
    const zhe = n < 10 ? `0.${n}折` : (n % 10 === 0 ? `${n / 10}折` : `${n}折`);
    return `${zhe}：收原价的 ${n}%，优惠 ${100 - n}%`;
  };
  for (const input of document.querySelectorAll("input[data-zhe]")) {
    const out = document.getElementById(input.getAttribute("aria-describedby"));
    const show = () => { out.textContent = reads(input.value.trim()); };
    input.addEventListener("input", show);
    show();
  }
})();
