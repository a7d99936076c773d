// The score reveal: per scored snippet, the true activations against the simulator's, so a
// player sees WHY an explanation scored what it did. The score event carries per-record
// correlations and the worst misses (detail.worst_misses: record, token, actual, predicted on
// 0..10); per-token predictions are drawn when an event carries them (detail.predictions).
import { api } from "./api.js";
import { countUp, el, fmt } from "./dom.js";
import { shown } from "./tokens.js";

const scale10 = (a, max) => (max > 0 ? (10 * Math.max(0, a)) / max : 0);

function bars(truth10, predicted10) {
  const col = el("span", { class: "bars", "aria-hidden": "true" },
    el("span", { class: "bar true", style: `--h:${(truth10 / 10).toFixed(3)}` }));
  if (predicted10 !== null && predicted10 !== undefined) {
    col.append(el("span", { class: "bar sim", style: `--h:${(Math.min(10, predicted10) / 10).toFixed(3)}` }));
  }
  return col;
}

// One snippet as columns of [token, true bar, simulated bar]; misses: Map(tokenIndex -> predicted).
// tokens: display text (shown()); a token with none (a special token) gets no column.
export function compareRows(tokens, truth, max, predicted, kind, correlation, misses = new Map()) {
  const cols = tokens.map((tok, i) => {
    if (tok === "") return null;
    const t10 = scale10(truth[i], max);
    const p10 = predicted ? predicted[i] : misses.get(i);
    const miss = misses.has(i);
    return el("span", {
      class: `cmp-tok${miss ? " miss" : ""}`,
      title: `${tok.trim() || "␣"}: true ${fmt(t10, 1)}${p10 === undefined ? "" : `, simulated ${fmt(p10, 1)}`} (0–10)`,
    }, bars(t10, p10), el("span", { class: "cmp-text", text: tok }));
  }).filter(Boolean);
  const label = kind === "random" ? "quiet snippet" : "top snippet";
  const corr = el("span", { class: `corr ${correlation > 0.5 ? "good" : correlation > 0.1 ? "ok" : "bad"}`, text: `r = ${fmt(correlation, 2)}` });
  const missNotes = [...misses.entries()].map(([i, p]) => el("li", {
    text: `“${(tokens[i] || "").trim()}”: simulated ${fmt(p, 1)}, true ${fmt(scale10(truth[i], max), 1)}`,
  }));
  return el("figure", { class: `compare ${kind}` },
    el("figcaption", {}, el("span", { class: `kind ${kind}`, text: label }), corr),
    el("div", { class: "cmp-row" }, cols),
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

// The reveal panel for one score event (real rounds).
export async function scoreReveal(event, neuronId, explanationText) {
  const detail = event.detail || {};
  const kinds = detail.kinds || [];
  const perRecord = event.per_record || [];
  const big = el("strong", { class: "big-score", text: "0.00" });
  const panel = el("section", { class: "reveal-panel", "aria-label": `score of “${explanationText}”` },
    el("p", { class: "score-line" }, el("span", { class: "quote", text: `“${explanationText}”` }), " scored ", big),
    el("p", { class: "muted", text: `${event.simulator || "simulator"} v${event.version || "?"} · ${detail.n_tokens || "?"} tokens · detection AUC ${fmt(detail.detection?.roc_auc, 2)}` }));
  countUp(big, event.score, 2);
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
    return compareRows(shown(r.tokens, r.display), r.activations, max, predictions ? predictions[i] : null, kinds[i], perRecord[i] ?? 0, misses);
  });
  if (rows.length) {
    panel.append(el("p", { class: "legend" },
      el("span", { class: "swatch true" }), " true activation ", el("span", { class: "swatch sim" }), " simulated (where known) · r = correlation per snippet"),
    el("div", { class: "reveal-records" }, rows));
  } else if (perRecord.length) {
    panel.append(el("p", { text: `Per-snippet correlations: ${perRecord.map((x) => fmt(x, 2)).join(", ")}` }));
  }
  return panel;
}
