// Mass order: "Place" sends the list that was checked; once the list is edited, it must be checked again.
(function () {
  "use strict";
  const text = document.getElementById("id_orders");
  const place = document.querySelector("[data-mass-place]");
  if (!text || !place) return;
  const checked = text.value;
  text.addEventListener("input", () => {
    const stale = text.value !== checked;
    place.disabled = stale;
    document.querySelector("[data-mass-stale]").hidden = !stale;
  });
})();
