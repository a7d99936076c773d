// A text snippet with every token shaded by its activation. The max token is marked; the
// value shows on hover and on keyboard focus (one tab stop per snippet, arrow keys move
// between tokens). Long snippets show a window around the max token and expand on demand.
import { el, fmt } from "./dom.js";

const WINDOW_BEFORE = 14;
const WINDOW_AFTER = 8;

function level(activation, max) {
  return max > 0 ? Math.min(1, Math.max(0, activation) / max) : 0;
}

function tokenSpan(token, activation, max, isMax) {
  const shade = level(activation, max);
  const span = el("span", {
    class: `tok${isMax ? " max" : ""}${shade > 0.55 ? " hot" : ""}`,
    style: `--shade:${shade.toFixed(3)}`,
    "data-act": fmt(activation, 2),
    title: `activation ${fmt(activation, 3)}`,
    tabindex: "-1",
    text: token,
  });
  return span;
}

function rove(container) {
  container.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const toks = [...container.querySelectorAll(".tok")];
    const at = toks.indexOf(document.activeElement);
    const next = toks[Math.max(0, Math.min(toks.length - 1, at + (ev.key === "ArrowRight" ? 1 : -1)))];
    if (next) {
      ev.preventDefault();
      next.focus();
    }
  });
  container.addEventListener("focus", (ev) => {
    if (ev.target === container) (container.querySelector(".tok.max") || container.querySelector(".tok"))?.focus();
  });
}

// WordPiece models (MiniLM) give tokens without leading spaces and "##" continuations: show
// them as words. Tokens that already carry their spaces (GPT-2, Llama) are left alone.
export function readable(tokens) {
  if (tokens.some((t) => /^\s/.test(t))) return tokens;
  return tokens.map((t, i) => (t.startsWith("##") ? t.slice(2) : i > 0 && /^[\w\[]/.test(t) ? ` ${t}` : t));
}

// tokens/activations: arrays; max: the scale (the neuron's max); maxIndex: the marked token.
export function snippet(rawTokens, activations, max, { maxIndex = null, label = "", windowed = true } = {}) {
  const tokens = readable(rawTokens);
  const mi = maxIndex ?? activations.reduce((best, a, i) => (a > activations[best] ? i : best), 0);
  const body = el("span", { class: "toks" });
  const container = el("div", {
    class: "snippet",
    tabindex: "0",
    role: "group",
    "aria-label": `${label || "snippet"}: max activation ${fmt(activations[mi], 2)} on “${(tokens[mi] || "").trim()}”`,
  }, body);
  const start = windowed ? Math.max(0, mi - WINDOW_BEFORE) : 0;
  const end = windowed ? Math.min(tokens.length, mi + WINDOW_AFTER + 1) : tokens.length;
  const draw = (from, to) => {
    const parts = tokens.slice(from, to).map((t, k) => tokenSpan(t, activations[from + k], max, from + k === mi));
    if (from > 0) parts.unshift(el("span", { class: "ellipsis", text: "…" }));
    if (to < tokens.length) parts.push(el("span", { class: "ellipsis", text: "…" }));
    body.replaceChildren(...parts);
  };
  draw(start, end);
  if (start > 0 || end < tokens.length) {
    const more = el("button", { class: "link expand", type: "button", "aria-expanded": "false", text: "more context" });
    more.addEventListener("click", () => {
      const open = more.getAttribute("aria-expanded") === "true";
      draw(open ? start : 0, open ? end : tokens.length);
      more.setAttribute("aria-expanded", String(!open));
      more.textContent = open ? "more context" : "less context";
    });
    container.append(more);
  }
  rove(container);
  return container;
}
