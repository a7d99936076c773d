// Round flow and private games (docs/protocol.md "Round flow and private rooms"): the pass
// button, a private room's lobby (its creator sets it up and presses Start), the creator's skip
// of a result's reading time, and the game's summary. Drawn into #game-panel.
import { roomWord } from "./units.js";
import { $, el, fmt, setChildren, toast } from "./dom.js";
import { feed } from "./game.js";

export function flowEvent(e, state) {
  switch (e.type) {
    case "room":
      state.game = e.game || null; state.passed = new Set(e.passed || []);
      if (e.room !== state.summaryRoom) state.summary = null;
      break;
    case "game_setup": case "game_start":
      state.game = { ...(state.game || {}), ...e }; delete state.game.type; delete state.game.v;
      if (e.type === "game_start") state.summary = null;
      break;
    case "puzzle": state.passed = new Set(); break;
    case "passed":
      (state.passed ||= new Set()).add(e.player_id);
      feed(`${state.members.get(e.player_id) || "A player"} is done with this round`);
      break;
    case "reveal": if (e.early) feed("Everyone is done: the round ends early."); break;
    case "game_end":
      state.summary = e; state.summaryRoom = state.room;
      if (state.game) { state.game.started = false; state.game.game_round = e.rounds; }
      break;
    case "reveal_skipped": toast("The host skipped ahead: the next round starts when the scores are in."); break;
    default:
  }
}

function isCreator(state) { return Boolean(state.game && state.me && state.game.creator === state.me.id); }

// The form is kept while the game's settings stay the same: every event redraws the panel, and
// a redraw must not wipe what the creator is typing.
let kept = { key: null, node: null };

function setupForm(state, conn) {
  const g = state.game;
  const key = JSON.stringify([g.round_s, g.reveal_s, g.rounds]);
  if (kept.key === key && kept.node) return kept.node;
  const clamp = (v, min, max) => Math.min(max, Math.max(min, Math.round(Number(v) || min)));
  const field = (name, label, value, min, max) => el("label", { text: `${label} ` },
    el("input", { name, type: "number", min: String(min), max: String(max), value: String(clamp(value, min, max)), required: true }));
  const form = el("form", { class: "row wrap", onsubmit: (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    conn.send({ type: "setup_game", round_s: Number(f.get("round_s")), reveal_s: Number(f.get("reveal_s")), rounds: Number(f.get("rounds")) });
  } },
  field("round_s", "Round (s)", g.round_s, 20, 900), field("reveal_s", "Result (s)", g.reveal_s, 3, 120),
  field("rounds", "Rounds", g.rounds ?? 5, 1, 50), el("button", { type: "submit", text: "Save" }));
  const node = el("div", {}, form, el("button", { type: "button", class: "primary big", text: "Start the game", onclick: () => conn.send({ type: "start_game" }) }));
  kept = { key, node };
  return node;
}

function lobbyView(state, conn) {
  const g = state.game;
  const host = state.members.get(g.creator) || "the room's creator";
  const names = [...state.members.values()];
  return [
    el("h2", { text: "Lobby" }),
    el("p", { text: `${names.length} in the room: ${names.join(", ")}` }),
    el("p", { class: "muted", text: `${g.rounds ?? "∞"} rounds of ${fmt(g.round_s, 0)} s, results shown ${fmt(g.reveal_s, 0)} s. Share the room code to invite friends.` }),
    // The campaign the creator picked (none: the default campaign, as quick play).
    g.campaign ? el("p", { id: "game-campaign", text: `Puzzles: the ${g.word || "neuron"}s of campaign ${g.campaign}` }) : null,
    isCreator(state) ? setupForm(state, conn) : el("p", { text: `Waiting for ${host} to start the game…` }),
  ];
}

function summaryView(state) {
  const s = state.summary;
  const rows = s.totals.map((t, i) => el("tr", {}, el("td", { text: String(i + 1) }), el("td", { text: t.name || `#${t.player_id}` }), el("td", { text: String(t.points) })));
  const share = s.share ? new URL(s.share, location.origin).href : null;
  return [
    el("h2", { text: `Game over: ${s.rounds} rounds` }),
    el("table", { class: "board" }, el("thead", {}, el("tr", {}, el("th", { text: "#" }), el("th", { text: "Player" }), el("th", { text: "Points" }))), el("tbody", {}, ...rows)),
    s.best ? el("p", {}, "Best explanation: ", el("q", { text: s.best.text }), ` by ${s.best.player_name || "a player"}, fit ${Math.round(100 * s.best.score)} / 100`) : el("p", { class: "muted", text: "No explanation was scored this game." }),
    share ? el("p", {}, el("a", { href: share, target: "_blank", rel: "noopener", text: `Open the ${roomWord()}'s page` }), " ",
      el("button", { type: "button", class: "ghost", text: "Copy share link", onclick: async () => {
        try { await navigator.clipboard.writeText(share); toast("Link copied", "good"); } catch { toast(share); }
      } })) : null,
  ];
}

export function renderFlow(state, conn) {
  const box = $("game-panel");
  if (!box) return;
  const parts = [];
  if (state.summary && state.summaryRoom === state.room) parts.push(...summaryView(state));
  if (state.game && !state.game.started && state.phase === "lobby") parts.push(...lobbyView(state, conn));
  if (state.phase === "round" && state.me) {
    const passed = state.passed && state.passed.has(state.me.id);
    parts.push(el("p", { class: "row between" },
      el("span", { class: "muted small", text: passed ? "You are done with this round: it ends once everyone is." : "Done writing and voting? The round ends early once everyone is." }),
      el("button", { type: "button", class: "ghost", disabled: passed, text: passed ? "Done" : "I'm done", onclick: () => conn.send({ type: "pass" }) })));
  }
  if (state.phase === "reveal" && isCreator(state)) {
    parts.push(el("p", {}, el("button", { type: "button", class: "ghost", text: "Skip to the next round", onclick: () => conn.send({ type: "skip_reveal" }) })));
  }
  box.hidden = parts.length === 0;
  setChildren(box, ...parts);
}
