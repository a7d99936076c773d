// Redraws replace the explanation list (a vote, a streamed score): without care, keyboard focus
// falls to the page body. keepFocus remembers which explanation (and which of its buttons) had
// focus and puts focus back on the same one after the redraw; a button that became disabled
// (the vote just cast) hands focus to its explanation row instead.
export function keepFocus(redraw) {
  const active = document.activeElement;
  const row = active && active.closest ? active.closest("#explanations li[data-expl]") : null;
  if (!row) { redraw(); return; }
  const id = row.dataset.expl;
  const kind = active.tagName === "BUTTON" ? [...active.classList][0] || "" : "";
  redraw();
  const again = document.querySelector(`#explanations li[data-expl="${CSS.escape(id)}"]`);
  if (!again || again.contains(document.activeElement)) return;
  const button = kind ? again.querySelector(`button.${CSS.escape(kind)}`) : null;
  if (button && !button.disabled) { button.focus({ preventScroll: true }); return; }
  again.setAttribute("tabindex", "-1");
  again.focus({ preventScroll: true });
}
