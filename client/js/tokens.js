// A text snippet with every token shaded by its activation. The max token is marked; the
// value shows on hover and on keyboard focus (one tab stop per snippet, arrow keys move
// between tokens). Long snippets show a window around the max token and expand on demand.
import { el, fmt, setChildren } from "./dom.js";

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

// What to show of a record's tokens: the server's display text (engine/display_text.py: spaces
// right for every tokenizer, special tokens empty), or the tokens themselves where a record
// has none (the onboarding demo, whose tokens are already text).
export function shown(tokens, display) {
  return Array.isArray(display) && display.length === tokens.length ? display : tokens;
}

// The tokens [start, end) shown around ``center``: ``before`` tokens before it and ``after``
// from it on, widened so that no word is cut: to the first piece of the word it starts in and
// to the last of the word it ends in (a clue reads "…can't be", not "…'t be"; a few pieces at
// most). tokens: display text, where a word's first token has the space before it.
export function wordWindow(tokens, center, before, after) {
  const wordStarts = (i) => i <= 0 || i >= tokens.length || tokens[i] === "" || /^\s/.test(tokens[i]);
  let start = Math.max(0, center - before);
  let end = Math.min(tokens.length, center + after);
  for (let k = 0; k < 8 && !wordStarts(start); k++) start--;
  for (let k = 0; k < 8 && !wordStarts(end); k++) end++;
  return [start, end];
}

// Whether text the reader does not see comes before token ``start`` of a record: a window
// that starts after a visible token, or a record that mining cut inside a word (its first
// WordPiece piece continues a word, "##gged": the reader gets "…gged program", not a
// fragment that reads like a word). Special tokens ([CLS]) before ``start`` hide nothing.
// "window", "word" (the record's own cut) or "" (nothing hidden).
export function cutBefore(rawTokens, display, start) {
  const first = shown(rawTokens, display).findIndex((t) => t !== "");
  if (first < 0) return "";
  if (start > first) return "window";
  return String(rawTokens[first]).startsWith("##") ? "word" : "";
}

// tokens/activations: arrays; max: the scale (the neuron's max); maxIndex: the marked token;
// display: the record's display text (see shown()).
export function snippet(rawTokens, activations, max, { maxIndex = null, label = "", windowed = true, display = null } = {}) {
  const tokens = shown(rawTokens, display);
  const mi = maxIndex ?? activations.reduce((best, a, i) => (a > activations[best] ? i : best), 0);
  const body = el("span", { class: "toks" });
  const container = el("div", {
    class: "snippet",
    tabindex: "0",
    role: "group",
    "aria-label": `${label || "snippet"}: max activation ${fmt(activations[mi], 2)} on “${(tokens[mi] || "").trim()}”`,
  }, body);
  const [start, end] = windowed ? wordWindow(tokens, mi, WINDOW_BEFORE, WINDOW_AFTER + 1) : [0, tokens.length];
  const draw = (from, to) => {
    // Special tokens ([CLS], <s> ...) have no display text: nothing to draw.
    const parts = tokens.slice(from, to).map((t, k) => (t === "" ? null : tokenSpan(t, activations[from + k], max, from + k === mi))).filter(Boolean);
    const cut = cutBefore(rawTokens, display, from);
    if (cut) parts.unshift(el("span", { class: `ellipsis cut-${cut}`, text: "…" }));
    if (to < tokens.length) parts.push(el("span", { class: "ellipsis", text: "…" }));
    setChildren(body, ...parts);
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
