// A new category brings its default points, unless the secretary already changed them.
(function () {
  "use strict";
  const category = document.getElementById("category");
  const points = document.getElementById("points");
  if (!category || !points) return;
  let edited = false;
  points.addEventListener("input", () => { edited = true; });
  const limit = () => {
    const option = category.selectedOptions[0];
    if (!option) return;
    points.max = option.dataset.max;
    if (!edited) points.value = option.dataset.default;
  };
  category.addEventListener("change", limit);
  points.max = category.selectedOptions[0] ? category.selectedOptions[0].dataset.max : "";
})();
