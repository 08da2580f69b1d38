// Orders: Refill and Cancel answer inside their row instead of reloading the page.
// Without this script the same forms post normally and the page comes back with a message.
(function () {
  "use strict";

  async function send(form) {
    const result = form.closest("td").querySelector(".followup-result");
    const button = form.querySelector("button");
    button.disabled = true;
    let answer;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Requested-With": "fetch", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
        credentials: "same-origin",
      });
      answer = await response.json();
    } catch (error) {
      // Signed out meanwhile, or the network failed: the plain form shows what happened.
      form.submit();
      return;
    }
    // The button stays disabled: asked once, the answer does not change by asking again.
    result.textContent = answer.message;
    result.classList.toggle("ok", answer.ok);
    result.classList.toggle("bad", !answer.ok);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("form[data-followup]")) return;
    event.preventDefault();
    send(form);
  });
})();
