// New ticket: the orders list is for order problems only; it hides while another type is chosen.
// Without this script it always shows, and orders ticked for another type are left out of the ticket.
(function () {
  "use strict";
  const form = document.getElementById("ticket-form");
  if (!form) return;
  const kinds = (form.dataset.orderKinds || "").split(" ");
  const kind = form.elements.kind;
  const orders = document.getElementById("ticket-orders");

  function show() {
    orders.hidden = Boolean(kind.value) && !kinds.includes(kind.value);
  }
  kind.addEventListener("change", show);
  show();
})();
