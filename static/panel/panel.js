// Shared behaviour of the customer pages: a button or form with data-confirm asks before it acts.
(function () {
  "use strict";
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const question = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
