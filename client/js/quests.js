// The daily puzzle (with streak and a spoiler-free share card) and the weekly quest, from
// /api/v1/quests/... Errors show inside the card; nothing else on the page depends on them.
import { api } from "./api.js";
import { $, el, fmt, setChildren } from "./dom.js";
import { preparing, statusKnown } from "./firststart.js";

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
  setChildren(out, el("p", { class: "muted", text: "Making your card…" }));
  try {
    const { text } = await api.get(`/quests/${questId}/share`);
    const copied = await copy(text);
    setChildren(out,
      el("pre", { class: "share-card", id: "share-text", text }),
      el("p", { class: "small muted", role: "status", text: copied ? "Copied to your clipboard." : "Select the text to copy it." }),
    );
  } catch (err) {
    setChildren(out, el("p", { class: "field-error", role: "alert", text: err.message }));
  }
}

function notReady(box, kind) {
  const p = preparing();
  box.className = "muted";
  setChildren(box, el("p", { class: "quest-opens", text: p
    ? `Opens when the puzzles are ready (${p.percent}% prepared${p.eta_s ? `, about ${Math.max(1, Math.round(p.eta_s / 60))} min` : ""}).`
    : `The ${kind} opens as soon as the first puzzles are ready.` }));
}

function streakLine(streak) {
  return el("div", { class: "streak", "aria-label": "daily streak" },
    el("span", { class: "flame", "aria-hidden": "true", text: "🔥" }),
    el("strong", { id: "streak-current", text: String(streak ? streak.current : 0) }),
    el("span", { text: " day streak" }),
    el("span", { class: "muted", text: ` · best ${streak ? streak.best : 0}` }));
}

// The Wordle loop: one play a day; once played, the card shows the result, the rank so far and
// the streak at once, with a spoiler-free card to share (no clue, no explanation in it).
// The card's share output outlives a redraw of the same daily: the lobby reloads the quests
// when the welcome arrives, and a card made (or an error shown) just before must not vanish.
let shareOut = { questId: null, node: null };

function shareOutFor(questId) {
  if (shareOut.questId !== questId) shareOut = { questId, node: el("div", { class: "share-out" }) };
  return shareOut.node;
}

function drawDaily(box, q, onPlay) {
  const mine = q.mine;
  const out = shareOutFor(q.id);
  box.className = "";
  const head = [el("p", { class: "quest-title", text: q.title }),
    el("p", { class: "muted small", text: `${q.period} · ${left(q.seconds_left)} · up to ${q.max_points} points` })];
  if (mine && mine.played) {
    setChildren(box, ...head,
      el("p", { class: "good", id: "daily-done", text: "Done for today ✓" }),
      el("div", { class: "quest-result", id: "daily-result" },
        el("span", {}, el("strong", { text: `${mine.points}/${q.max_points}` }), " points"),
        mine.rank
          ? el("span", {}, el("strong", { text: `#${mine.rank}` }), ` of ${mine.players} so far`)
          : el("span", { class: "muted", text: "rank so far: as soon as your explanation is scored" })),
      streakLine(mine.streak),
      el("div", { class: "row" },
        el("button", { class: "primary", type: "button", id: "share-daily", text: "Share your result", onclick: () => shareDaily(q.id, out) })),
      el("p", { class: "small muted", text: "A new daily opens at midnight UTC." }),
      out);
    return;
  }
  setChildren(box, ...head, streakLine(mine && mine.streak),
    el("div", { class: "row" },
      el("button", { class: "primary", type: "button", text: "Play today's puzzle", onclick: () => onPlay(q.room || `daily-${q.period}`) }),
      el("button", { type: "button", id: "share-daily", text: "Share", onclick: () => shareDaily(q.id, out) })),
    out);
}

function drawWeekly(box, q, standings, onPlay) {
  const mine = q.mine;
  box.className = "";
  setChildren(box,
    el("p", { class: "quest-title", text: q.title }),
    el("p", { class: "quest-progress", id: "weekly-progress", text: `${mine ? mine.played : 0} of ${q.neuron_ids.length} ${q.word || "neuron"}s explained` }),
    el("p", { class: "muted small", text: `${q.period} · ${left(q.seconds_left)} · up to ${q.max_points} points${mine && mine.rank ? ` · you are #${mine.rank} of ${mine.players}` : ""}` }),
    standings.items.length
      ? el("ol", { class: "mini-board" }, standings.items.map((r) => el("li", {}, el("span", { text: r.name || "a player" }), el("span", { class: "num", text: fmt(r.score, 0) }))))
      : el("p", { class: "muted small", text: "No one has scored yet this week." }),
    el("button", { type: "button", text: mine && mine.played ? "Continue the weekly quest" : "Play the weekly quest", onclick: () => onPlay(q.room || `weekly-${q.period}`) }),
  );
}

// Two loads can overlap (the route and the welcome both ask): only the latest one draws.
let latestLoad = 0;

export async function loadQuests(me, onPlay) {
  const daily = $("daily-body");
  const weekly = $("weekly-body");
  const load = ++latestLoad;
  await statusKnown;
  if (load !== latestLoad) return;
  if (preparing()) { // the first mining runs: the cards say when they open (reloaded when ready)
    notReady(daily, "daily");
    notReady(weekly, "weekly quest");
    return;
  }
  try {
    const q = await api.get("/quests/daily");
    if (load !== latestLoad) return;
    drawDaily(daily, q, onPlay);
  } catch (err) {
    if (load !== latestLoad) return;
    if (err.status === 404) notReady(daily, "daily");
    else setChildren(daily, el("p", { class: "field-error", text: err.message }));
  }
  try {
    const q = await api.get("/quests/weekly");
    const standings = await api.get(`/quests/${q.id}/results?limit=5`).catch(() => ({ items: [] }));
    if (load !== latestLoad) return;
    drawWeekly(weekly, q, standings, onPlay);
  } catch (err) {
    if (load !== latestLoad) return;
    if (err.status === 404) notReady(weekly, "weekly quest");
    else setChildren(weekly, el("p", { class: "field-error", text: err.message }));
  }
  void me;
}
