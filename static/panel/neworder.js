// New order: category and search narrow the service list; the chosen service decides which fields show;
// the charge is asked from the server (the same pricing as placing the order) as the customer types.
(function () {
  "use strict";
  const form = document.getElementById("order-form");
  if (!form) return;
  const catalog = JSON.parse(document.getElementById("catalog-data").textContent);
  const texts = JSON.parse(document.getElementById("order-texts").textContent);
  const byId = new Map(catalog.map((s) => [String(s.id), s]));
  const category = document.getElementById("id_category");
  const search = document.getElementById("id_search");
  const select = document.getElementById("id_service");
  const charge = document.getElementById("charge");
  const note = document.getElementById("charge-note");
  const dripfeed = document.getElementById("id_dripfeed");
  const dripfeedFields = form.querySelector(".dripfeed-fields");
  const details = document.getElementById("service-details");
  let timer = null;
  let asked = 0;

  function format(text, values) {
    return text.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
  }

  function fillServices() {
    const query = search.value.trim().toLowerCase();
    const current = select.value;
    const matches = catalog.filter((s) =>
      query ? (s.name.toLowerCase().includes(query) || String(s.id) === query) : s.category === category.value);
    select.replaceChildren();
    if (!matches.length) {
      select.append(new Option(texts.choose, ""));
    }
    for (const s of matches) {
      const option = new Option(`${s.id} — ${s.name} — ${s.rate}`, s.id);
      select.append(option);
    }
    if (matches.some((s) => String(s.id) === current)) select.value = current;
    showService();
  }

  function showService() {
    const service = byId.get(select.value);
    details.querySelector("[data-details]").hidden = !service;
    details.querySelector("[data-nodetails]").hidden = Boolean(service);
    const wanted = new Set(service ? service.fields : ["link", "quantity"]);
    for (const field of form.querySelectorAll("[data-param]")) {
      const name = field.dataset.param;
      field.hidden = name === "dripfeed" ? !wanted.has("runs") : !wanted.has(name);
    }
    if (!wanted.has("runs") && dripfeed) dripfeed.checked = false;
    dripfeedFields.hidden = !(dripfeed && dripfeed.checked);
    if (service) {
      for (const key of ["name", "rate", "min", "max", "average", "description"]) {
        details.querySelector(`[data-d="${key}"]`).textContent = service[key];
      }
      for (const key of ["refill", "cancel", "dripfeed"]) {
        details.querySelector(`[data-d="${key}"]`).hidden = !service[key];
      }
      const limits = form.querySelector("[data-limits]");
      if (limits) limits.textContent = format(texts.limits, service);
      const url = new URL(window.location.href);
      url.searchParams.set("service", service.id);
      window.history.replaceState(null, "", url);
    }
    requote();
  }

  function requote() {
    clearTimeout(timer);
    timer = setTimeout(quote, 250);
  }

  async function quote() {
    const service = byId.get(select.value);
    if (!service) {
      charge.textContent = "—";
      note.textContent = "";
      return;
    }
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (name !== "csrfmiddlewaretoken" && name !== "order_key" && value !== "") params.append(name, value);
    }
    const ticket = ++asked;
    try {
      const response = await fetch(`${form.dataset.quoteUrl}?${params}`, { headers: { Accept: "application/json" } });
      const answer = await response.json();
      if (ticket !== asked) return;  // an older answer arriving late must not overwrite a newer one
      if (answer.ok) {
        charge.textContent = answer.charge;
        const parts = [];
        if (service.fields.includes("runs") && dripfeed && dripfeed.checked) parts.push(format(texts.units, { count: answer.quantity }));
        if (!answer.affordable) parts.push(texts.short);
        note.textContent = parts.join(" ");
        note.classList.toggle("field-error", !answer.affordable);
      } else {
        charge.textContent = "—";
        note.textContent = answer.error;
        note.classList.remove("field-error");
      }
    } catch (error) {
      if (ticket === asked) charge.textContent = "—";
    }
  }

  category.addEventListener("change", () => { search.value = ""; fillServices(); });
  search.addEventListener("input", fillServices);
  select.addEventListener("change", () => {
    const service = byId.get(select.value);
    if (service && !search.value) category.value = service.category;
    showService();
  });
  if (dripfeed) dripfeed.addEventListener("change", () => { dripfeedFields.hidden = !dripfeed.checked; requote(); });
  form.addEventListener("input", (event) => {
    if (event.target !== search && event.target !== select && event.target !== category) requote();
  });
  const submit = document.getElementById("submit-order");
  form.addEventListener("submit", () => {
    // The server places a resent form once (order_key); this only spares a confusing second click.
    setTimeout(() => { submit.disabled = true; }, 0);
  });
  // Back to this page from the next one: the browser may restore it as it was, button disabled.
  window.addEventListener("pageshow", () => { submit.disabled = false; });
  if (select.value) {
    const service = byId.get(select.value);
    if (service) category.value = service.category;
  }
  fillServices();
})();
