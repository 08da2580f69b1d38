// A ticket's admin page: picking a canned reply puts its text in the reply box (after what is there), then clears
// the choice so that the server does not add it again; buttons with data-confirm ask before they post.
(function () {
  "use strict";

  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.dataset.cannedFor) return;
    const option = select.selectedOptions[0];
    const box = document.getElementById(select.dataset.cannedFor);
    if (!option || !option.value || !box) return;
    const text = option.dataset.body || "";
    box.value = box.value.trim() ? `${box.value.trimEnd()}\n\n${text}` : text;
    select.value = "";
    box.focus();
  });

  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const question = button && button.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
