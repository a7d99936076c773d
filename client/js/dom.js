// Small DOM helpers. Player text only ever goes through textContent (the "text" prop or a
// string child, which append() inserts as a text node), never innerHTML.

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
