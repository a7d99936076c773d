// Injected into every browser test's pages (tests/browser/conftest.py): notes each text node
// that reads "null", "undefined", "NaN" or "[object Object]" — a view that passed a missing
// value to the DOM — with where it was drawn, in window.__nqLeaks.
window.__nqLeaks = [];
new MutationObserver((changes) => {
  const bad = /^(null|undefined|NaN|\[object Object\])$/;
  const where = (t) => { const p = t.parentNode; return p && p.nodeType === 1 ? `${p.tagName.toLowerCase()}#${p.id}.${p.className} in #${p.closest("[id]")?.id}` : "?"; };
  const note = (t) => { if (bad.test(t.data.trim())) window.__nqLeaks.push(`${t.data.trim()} (${where(t)})`); };
  const look = (node) => {
    if (node.nodeType === 3) { note(node); return; }
    if (node.nodeType !== 1) return;
    const walk = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let t = walk.nextNode(); t; t = walk.nextNode()) note(t);
  };
  for (const c of changes) {
    if (c.type === "characterData") look(c.target);
    for (const n of c.addedNodes) look(n);
  }
}).observe(document, { childList: true, subtree: true, characterData: true });
