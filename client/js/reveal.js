// The score reveal: per scored snippet, the true activations against the simulator's, so a
// player sees WHY an explanation scored what it did. The score event carries per-record
// fits (correlations) and the worst misses (detail.worst_misses: record, token, actual, predicted on
// 0..10); per-token predictions are drawn when an event carries them (detail.predictions).
import { roomWord } from "./units.js";
import { api } from "./api.js";
import { countUp, el, fmt, setChildren } from "./dom.js";
import { fit } from "./fit.js";
import { cutBefore, shown } from "./tokens.js";

const scale10 = (a, max) => (max > 0 ? (10 * Math.max(0, a)) / max : 0);

function bars(truth10, predicted10) {
  const col = el("span", { class: "bars", "aria-hidden": "true" },
    el("span", { class: "bar true", style: `--h:${(truth10 / 10).toFixed(3)}` }));
  if (predicted10 !== null && predicted10 !== undefined) {
    col.append(el("span", { class: "bar sim", style: `--h:${(Math.min(10, predicted10) / 10).toFixed(3)}` }));
  }
  return col;
}

// A word starts at a token whose text opens with a space ("\n\n" alone is a word of its own).
const opensWord = (tok) => /^\s/.test(tok);

// The columns grouped by word: a line may break only where the text has a space, so a word's
// pieces ("kernel" "s", "Post" "ulate") and the punctuation that clings to it stay together.
// The space itself is the row's gap between groups, not text, so a wrapped line does not
// start indented. cut: the record starts inside a word (an ellipsis before it).
function words(tokens, cols, cut) {
  const groups = [];
  cols.forEach((col, i) => {
    if (!col) return;
    if (!groups.length || opensWord(tokens[i])) {
      groups.push(el("span", { class: "cmp-word", "data-gap": groups.length && opensWord(tokens[i]) ? "space" : "none" }));
    }
    groups[groups.length - 1].append(col);
  });
  if (cut && groups.length) groups[0].prepend(el("span", { class: "cmp-cut ellipsis", "aria-hidden": "true", text: "…" }));
  return groups;
}

// One snippet as columns of [token, true bar, simulated bar]; misses: Map(tokenIndex -> predicted).
// tokens: display text (shown()); a token with none (a special token) gets no column.
// cut: text was cut before the first token (cutBefore() of tokens.js).
export function compareRows(tokens, truth, max, predicted, kind, correlation, misses = new Map(), { cut = false } = {}) {
  const cols = tokens.map((tok, i) => {
    if (tok === "") return null;
    const t10 = scale10(truth[i], max);
    const p10 = predicted ? predicted[i] : misses.get(i);
    const miss = misses.has(i);
    return el("span", {
      class: `cmp-tok${miss ? " miss" : ""}`,
      title: `${tok.trim() || "␣"}: true ${fmt(t10, 1)}${p10 === undefined ? "" : `, simulated ${fmt(p10, 1)}`} (0–10)`,
    }, bars(t10, p10), el("span", { class: "cmp-text", text: tok.trim() ? tok.replace(/^\s+/, "") : tok }));
  });
  const label = kind === "random" ? "quiet snippet" : "top snippet";
  const f = fit(correlation);
  const corr = el("span", { class: `corr fit-${f.band}`, title: f.sentence, text: `fit ${f.text}` });
  const missNotes = [...misses.entries()].map(([i, p]) => el("li", {
    text: `“${(tokens[i] || "").trim()}”: simulated ${fmt(p, 1)}, true ${fmt(scale10(truth[i], max), 1)}`,
  }));
  return el("figure", { class: `compare ${kind}` },
    el("figcaption", {}, el("span", { class: `kind ${kind}`, text: label }), corr),
    el("div", { class: "cmp-row" }, words(tokens, cols, cut)),
    missNotes.length ? el("ul", { class: "misses" }, missNotes) : null);
}

const recordCache = new Map();

async function scoredRecords(neuronId, kinds) {
  const tops = kinds.filter((k) => k === "top").length;
  const randoms = kinds.length - tops;
  const key = `${neuronId}:${tops}:${randoms}`;
  if (!recordCache.has(key)) {
    const get = (kind, n) => (n ? api.get(`/neurons/${neuronId}/activations?kind=${kind}&limit=${Math.min(100, n)}`).then((p) => p.items) : []);
    recordCache.set(key, Promise.all([get("top", tops), get("random", randoms)]).then(([t, r]) => [...t, ...r]));
  }
  return recordCache.get(key);
}

// The reveal panel for one score event (real rounds): the score as a fit out of 100 with
// what it means, then the ``best`` snippets that show most clearly why (highest per-snippet
// fit, or lowest when the score is below zero); the rest on demand, never all stacked.
// compact: no score line (the result screen shows it beside the explanation).
export async function scoreReveal(event, neuronId, explanationText, { best = 3, compact = false } = {}) {
  const detail = event.detail || {};
  const kinds = detail.kinds || [];
  const perRecord = event.per_record || [];
  const f = fit(event.score);
  const panel = el("section", { class: "reveal-panel", "aria-label": `score of “${explanationText}”` });
  if (!compact) {
    const big = el("strong", { class: "big-score", text: "0" });
    panel.append(
      el("p", { class: "score-line" }, el("span", { class: "quote", text: `“${explanationText}”` }), " fits ", big, el("span", { class: "of", text: "/100" })),
      el("p", { class: `fit-sentence fit-${f.band}`, text: f.sentence }));
    big.classList.add(`fit-${f.band}`);
    countUp(big, f.value, 0);
  }
  let records = [];
  try {
    records = kinds.length ? await scoredRecords(neuronId, kinds) : [];
  } catch {
    records = [];
  }
  const max = Math.max(0, ...records.flatMap((r) => r.activations));
  const predictions = detail.predictions || null;
  const rows = records.slice(0, perRecord.length).map((r, i) => {
    const misses = new Map((detail.worst_misses || []).filter((m) => m.record === i).map((m) => [m.token_index, m.predicted]));
    const row = compareRows(shown(r.tokens, r.display), r.activations, max, predictions ? predictions[i] : null, kinds[i], perRecord[i] ?? 0, misses,
      { cut: cutBefore(r.tokens, r.display, 0) });
    return { row, r: perRecord[i] ?? 0 };
  });
  if (!rows.length) return panel;
  const sign = (event.score ?? 0) < 0 ? 1 : -1;
  const ranked = [...rows].sort((a, b) => sign * (a.r - b.r));
  const first = ranked.slice(0, best).map((x) => x.row);
  const rest = ranked.slice(best).map((x) => x.row);
  const list = el("div", { class: "reveal-records" }, first);
  panel.append(el("p", { class: "legend" },
    el("span", { class: "swatch true" }), ` where the ${roomWord()} really fires `, el("span", { class: "swatch sim" }), " where the explanation predicts it"),
  list);
  if (rest.length) {
    const more = el("button", { type: "button", class: "link more-snippets", "aria-expanded": "false", text: `Show the other ${rest.length} snippets` });
    more.addEventListener("click", () => {
      const open = more.getAttribute("aria-expanded") === "true";
      setChildren(list, ...(open ? first : [...first, ...rest]));
      more.setAttribute("aria-expanded", String(!open));
      more.textContent = open ? `Show the other ${rest.length} snippets` : "Show fewer snippets";
    });
    panel.append(more);
  }
  return panel;
}
