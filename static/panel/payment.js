// The payment page: Stripe's Payment Element where the customer pays by card, and a watch on the payment's state
// that shows what happened and updates the balance in the header without a reload. The wallet is credited by the
// server only, from what it verified with the gateway: nothing this script reports moves money.
(function () {
  "use strict";
  const live = document.getElementById("payment-live");
  if (!live) return;

  function show(state, label) {
    for (const note of live.querySelectorAll("[data-when]")) {
      note.hidden = !note.dataset.when.split(" ").includes(state);
    }
    for (const badge of document.querySelectorAll("[data-payment-state]")) {
      badge.dataset.paymentState = state;
      badge.textContent = label;
      badge.className = "badge " + ({succeeded: "ok", failed: "bad", disputed: "bad", refunded: "muted"}[state] || "warn");
    }
    if (state !== "created" && state !== "pending") {
      const form = document.getElementById("card-payment");
      if (form) form.closest("section").hidden = true;
    }
  }

  let delay = 2000;
  async function watch() {
    try {
      const response = await fetch(live.dataset.stateUrl, {headers: {Accept: "application/json"}, credentials: "same-origin"});
      if (response.ok) {
        const payment = await response.json();
        show(payment.state, payment.label);
        for (const balance of document.querySelectorAll("[data-balance]")) balance.textContent = payment.balance;
        if (!payment.open) return;
      }
    } catch (error) {
      // Offline for a moment: ask again later.
    }
    delay = Math.min(delay * 1.3, 15000);
    window.setTimeout(watch, delay);
  }
  if (live.dataset.open === "1") window.setTimeout(watch, delay);

  const form = document.getElementById("card-payment");
  if (!form) return;
  const button = form.querySelector("button[type=submit]");
  const problem = document.getElementById("payment-error");
  if (typeof window.Stripe !== "function") {
    document.getElementById("payment-unavailable").hidden = false;
    return;
  }
  const stripe = window.Stripe(form.dataset.key, {locale: form.dataset.locale});
  const elements = stripe.elements({clientSecret: form.dataset.clientSecret, locale: form.dataset.locale});
  elements.create("payment").mount("#payment-element");
  button.disabled = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    problem.hidden = true;
    const result = await stripe.confirmPayment({elements, confirmParams: {return_url: form.dataset.returnUrl}});
    // Stripe navigates to return_url on success; an answer here is a problem to show (a declined card).
    if (result && result.error) {
      problem.textContent = result.error.message || "";
      problem.hidden = false;
      button.disabled = false;
    }
  });
})();
