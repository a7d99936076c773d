// The daily puzzle (with streak and a spoiler-free share card) and the weekly quest, from
// /api/v1/quests/... Errors show inside the card; nothing else on the page depends on them.
import { api } from "./api.js";
import { $, el, fmt } from "./dom.js";

function left(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h >= 24 ? `${Math.floor(h / 24)}d ${h % 24}h left` : `${h}h ${m}m left`;
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export async function shareDaily(questId, out) {
  out.replaceChildren(el("p", { class: "muted", text: "Making your card…" }));
  try {
    const { text } = await api.get(`/quests/${questId}/share`);
    const copied = await copy(text);
    out.replaceChildren(
      el("pre", { class: "share-card", id: "share-text", text }),
      el("p", { class: "small muted", role: "status", text: copied ? "Copied to your clipboard." : "Select the text to copy it." }),
    );
  } catch (err) {
    out.replaceChildren(el("p", { class: "field-error", role: "alert", text: err.message }));
  }
}

export async function loadQuests(me, onPlay) {
  const daily = $("daily-body");
  const weekly = $("weekly-body");
  let streak = null;
  if (me) {
    try {
      streak = (await api.get(`/players/${me.id}/profile`)).streak;
    } catch {
      streak = null;
    }
  }
  try {
    const q = await api.get("/quests/daily");
    const out = el("div", { class: "share-out" });
    daily.className = "";
    daily.replaceChildren(
      el("p", { class: "quest-title", text: q.title }),
      el("p", { class: "muted small", text: `${q.period} · ${q.status} · ${left(q.seconds_left)} · up to ${q.max_points} points` }),
      el("div", { class: "streak", "aria-label": "daily streak" },
        el("span", { class: "flame", "aria-hidden": "true", text: "🔥" }),
        el("strong", { id: "streak-current", text: String(streak ? streak.current : 0) }),
        el("span", { text: " day streak" }),
        el("span", { class: "muted", text: ` · best ${streak ? streak.best : 0}` })),
      el("div", { class: "row" },
        el("button", { class: "primary", type: "button", text: "Play today's puzzle", onclick: () => onPlay(`daily-${q.period}`) }),
        el("button", { type: "button", id: "share-daily", text: "Share", onclick: () => shareDaily(q.id, out) })),
      out,
    );
  } catch (err) {
    daily.replaceChildren(el("p", { class: "field-error", text: err.message }));
  }
  try {
    const q = await api.get("/quests/weekly");
    const standings = await api.get(`/quests/${q.id}/results?limit=5`).catch(() => ({ items: [] }));
    weekly.className = "";
    weekly.replaceChildren(
      el("p", { class: "quest-title", text: q.title }),
      el("p", { class: "muted small", text: `${q.period} · ${q.neuron_ids.length} neurons · ${left(q.seconds_left)} · up to ${q.max_points} points` }),
      standings.items.length
        ? el("ol", { class: "mini-board" }, standings.items.map((r) => el("li", {}, el("span", { text: r.name || `#${r.id}` }), el("span", { class: "num", text: fmt(r.score, 0) }))))
        : el("p", { class: "muted small", text: "No one has scored yet this week." }),
      el("button", { type: "button", text: "Play the weekly quest", onclick: () => onPlay(`weekly-${q.period}`) }),
    );
  } catch (err) {
    weekly.replaceChildren(el("p", { class: "field-error", text: err.message }));
  }
}
