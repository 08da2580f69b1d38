// A copy button (data-copy names the element whose text it copies): the API page's new key, the affiliates
// page's referral link. Hidden until this script runs; its status line says whether the copy worked.
for (const button of document.querySelectorAll("[data-copy]")) {
  const source = document.getElementById(button.dataset.copy);
  const status = document.querySelector("[data-copy-status]");
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      status.textContent = button.dataset.copied;
    } catch {
      // No clipboard access (an http:// page, a refused permission): select the text for a manual copy.
      window.getSelection().selectAllChildren(source);
      status.textContent = button.dataset.copyFailed;
    }
  });
}
