// The API page: a copy button for the new key (panel.js asks before a regeneration revokes the old one).
for (const button of document.querySelectorAll("[data-copy]")) {
  const key = document.getElementById(button.dataset.copy);
  const status = document.querySelector("[data-copy-status]");
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(key.textContent.trim());
      status.textContent = button.dataset.copied;
    } catch {
      // No clipboard access (an http:// page, a refused permission): select the key for a manual copy.
      window.getSelection().selectAllChildren(key);
      status.textContent = button.dataset.copyFailed;
    }
  });
}
