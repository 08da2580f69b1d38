// Services: the search box, category and refill/cancel filters narrow the list as you type, with the same
// rules the server applies to the form when this script does not run.
(function () {
  "use strict";
  const form = document.querySelector("[data-services-filter]");
  const table = document.querySelector("table.services");
  if (!form || !table) return;
  const none = document.querySelector("[data-services-none]");
  const rows = Array.from(table.querySelectorAll("tbody tr[data-id]"), (tr) => ({
    tr,
    id: tr.dataset.id,
    name: tr.querySelector("[data-name]").textContent.toLowerCase(),
    refill: tr.dataset.refill === "1",
    cancel: tr.dataset.cancel === "1",
    category: tr.parentElement.dataset.category,
  }));
  // A list the server already filtered (a shared ?q= link) lacks rows: widening it needs the server again.
  const complete = !window.location.search;
  let timer = null;

  function apply() {
    const query = form.elements.q.value.trim().toLowerCase();
    const category = form.elements.category.value;
    const refill = form.elements.refill.checked;
    const cancel = form.elements.cancel.checked;
    const shown = new Set();
    for (const row of rows) {
      const keep = (!category || row.category === category)
        && (!refill || row.refill) && (!cancel || row.cancel)
        && (!query || row.id === query || row.name.includes(query));
      row.tr.hidden = !keep;
      if (keep) shown.add(row.category);
    }
    for (const body of table.tBodies) body.hidden = !shown.has(body.dataset.category);
    none.hidden = shown.size > 0;
    table.closest(".table-wrap").hidden = shown.size === 0;
  }

  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(complete ? apply : () => form.requestSubmit(), complete ? 150 : 600);
  });
  form.addEventListener("submit", (event) => {
    if (!complete) return;
    event.preventDefault();
    apply();
  });
  // A reload or Back may restore what was typed in the filters: show the rows that match it.
  if (complete) apply();
})();
