// DOM helpers and charts shared by every page (game, host console, overlay, neuron page).
// Player text only ever goes through textContent (the "text" prop or a string child, which
// append() inserts as a text node), never innerHTML.

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key === "style") node.setAttribute("style", value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "hidden" || key === "disabled") node[key] = Boolean(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// A node's children, replaced: what a view leaves out (a null, undefined or false where a part
// does not apply) is skipped, as el() skips it; the DOM's own replaceChildren would draw "null".
export function setChildren(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

export function fmt(x, digits = 2) {
  return x === null || x === undefined || Number.isNaN(Number(x)) ? "–" : Number(x).toFixed(digits);
}

// One polite live region for toasts: screen readers hear them, sighted players see them fade.
export function toast(message, kind = "info") {
  const box = $("toasts");
  if (!box) return;
  const item = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", text: message });
  box.append(item);
  setTimeout(() => item.classList.add("leaving"), 3500);
  setTimeout(() => item.remove(), 4000);
}

export const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

// Count up a number for the score reveal (skipped when the player asked for less motion).
export function countUp(node, target, digits = 2, ms = 700) {
  if (reducedMotion() || target === null || target === undefined) {
    node.textContent = fmt(target, digits);
    return;
  }
  const start = performance.now();
  const step = (now) => {
    const t = Math.min(1, (now - start) / ms);
    node.textContent = fmt(target * (1 - (1 - t) ** 3), digits);
    if (t < 1) requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

// An activation histogram as SVG bars in a 300x80 box: "log" (the game's: a few hot tokens
// stay visible beside thousands of quiet ones) or "linear" (the neuron page's).
export function drawHistogram(svg, histogram, { scale = "log" } = {}) {
  const counts = (histogram && histogram.counts) || [];
  const NS = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  if (!counts.length) {
    const t = document.createElementNS(NS, "text");
    t.setAttribute("x", "150"); t.setAttribute("y", "44"); t.setAttribute("text-anchor", "middle");
    t.textContent = "no histogram yet";
    svg.append(t);
    return;
  }
  const size = scale === "log" ? (c) => Math.log1p(c) : (c) => c;
  const full = scale === "log" ? 76 : 78;
  const top = Math.max(1, ...counts.map(size));
  const w = 300 / counts.length;
  counts.forEach((c, i) => {
    const h = (full * size(c)) / top;
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("x", String(i * w)); r.setAttribute("y", String(80 - h));
    r.setAttribute("width", String(Math.max(1, w - 1))); r.setAttribute("height", String(h));
    const title = document.createElementNS(NS, "title"); title.textContent = `${c} tokens`; r.append(title);
    svg.append(r);
  });
  svg.setAttribute("aria-label", `activation histogram (${scale} scale), ${counts.length} bins`);
}
