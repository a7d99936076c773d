// The room: state kept from the protocol's events (docs/protocol.md) and the puzzle view drawn
// from it. Moves are optimistic: a submit or a vote shows at once as "pending" and is
// confirmed (or rolled back with an inline error) by the server's events.
import { $, countUp, drawHistogram, el, fmt, setChildren, toast } from "./dom.js";
import { keepFocus } from "./keepfocus.js";
import { shown, snippet } from "./tokens.js";
import { scoreReveal } from "./reveal.js";
import { fitBadge, reasonText } from "./fit.js";
import { HIDDEN, resultScreen } from "./result.js";
import { applyRoomWords, capital, setRoomWord, unitHref, unitWord } from "./units.js";

export const state = {
  me: null, limits: { max_explanation_chars: 280, max_text_chars: 2000 },
  room: null, phase: "lobby", round: 0, deadline: null, neuron: null, clues: [],
  explanations: new Map(), scores: {}, votes: {}, members: new Map(), count: null, top: null,
  scoreEvents: new Map(), progress: new Map(), myVotes: new Set(),
  pendingSubmit: null, pendingVotes: [], submittedRound: null, result: null,
  myTexts: new Map(), // explanation id -> the text I sent (a quest room sends none back)
};

// Quest rooms are blind (rooms/blind.py): nobody's text but your own until the quest closes,
// and no votes (the score alone decides).
export function blindRoom(room) { return /^(daily|weekly)-/.test(room || ""); }

let conn = null;
export function bindConnection(c) { conn = c; }

// "ann", "ann and bob", "ann, bob and cy", "ann, bob, cy and 4 more".
function namesText(names) {
  if (names.length <= 1) return names.join("");
  if (names.length <= 3) return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
  return `${names.slice(0, 3).join(", ")} and ${names.length - 3} more`;
}

function feed(text, cls = "") {
  const list = $("feed");
  // A room waiting for its next puzzle says so again on each try: once on screen is enough.
  const last = list.firstElementChild;
  if (last && last.textContent === text && last.className === cls) return;
  list.prepend(el("li", { class: cls, text }));
  while (list.children.length > 40) list.lastChild.remove();
}

// A new round (or another room) starts clean: nothing of the last one stays on screen, and a
// draft written for the last neuron is cleared so it can never be sent for this one. A new
// round of the same neuron (the daily's room serves it round after round) keeps the draft:
// a player still typing when the round turned over loses nothing.
function clearRound({ keepDraft = false } = {}) {
  state.scoreEvents.clear(); state.progress.clear(); state.myVotes.clear();
  state.result = null; state.pendingSubmit = null; state.voteErrors = {};
  for (const id of ["reveal", "result"]) { setChildren($(id)); $(id).hidden = true; }
  setChildren($("test-result"));
  if (!keepDraft) { $("explanation").value = ""; $("explanation").dispatchEvent(new Event("input")); }
  $("explain-error").textContent = "";
}

function newPuzzle(e) {
  const changed = !state.neuron || !e.neuron || state.neuron.id !== e.neuron.id;
  state.neuron = e.neuron; state.clues = e.clues || []; state.top = null;
  state.explanations = new Map((e.explanations || []).map((x) => [x.id, x]));
  state.scores = { ...(e.scores || {}) }; state.votes = { ...(e.votes || {}) };
  if (changed) clearRound();
  applyRoomWords(unitWord(state.neuron));
  if (changed && e.neuron) loadNeuronStats(e.neuron);
}

export const handlers = {
  welcome(e) {
    state.me = e.player; state.limits = { ...state.limits, ...(e.limits || {}) };
  },
  room(e) {
    if (state.shownRoom !== e.room) { setChildren($("feed")); clearRound(); state.neuron = null; }
    state.shownRoom = e.room;
    state.room = e.room; state.phase = e.phase; state.round = e.round; state.deadline = e.deadline;
    state.members = new Map(e.members.map((m) => [m.id, m.name]));
    // A big room lists only some members; its true size comes with it and then from "crowd".
    state.count = e.member_count ?? state.members.size;
    setRoomWord(e.word); // a room made to play a chosen campaign names its units before a puzzle
    newPuzzle(e);
    if (e.result) { state.result = e.result; showResult(); }
    if (e.resync) feed("Caught up with the room.");
  },
  // Joins and leaves come together, at most every 0.2 s (docs/protocol.md "members"): the last
  // event that names a player says where they are; `count` is the room's size.
  members(e) {
    const arrived = e.joined.filter((p) => !state.members.has(p.id));
    for (const p of e.joined) state.members.set(p.id, p.name);
    for (const id of e.left) state.members.delete(id);
    state.count = typeof e.count === "number" ? e.count : state.members.size;
    if (arrived.length) feed(`${namesText(arrived.map((p) => p.name))} joined`);
  },
  joined(e) { // one join at a time: logs written before the "members" event (issue 19)
    if (!state.members.has(e.player.id)) state.count = (state.count || 0) + 1;
    state.members.set(e.player.id, e.player.name); feed(`${e.player.name} joined`);
  },
  crowd(e) { if (typeof e.players === "number") state.count = e.players; },
  left(e) {
    if (state.members.delete(e.player.id)) state.count = Math.max(0, (state.count || 1) - 1);
    if (state.me && e.player.id === state.me.id && !e.v) state.room = null;
  },
  renamed(e) {
    if (state.members.has(e.player.id)) state.members.set(e.player.id, e.player.name);
    if (state.me && e.player.id === state.me.id) state.me.name = e.player.name;
  },
  lobby(e) { state.phase = "lobby"; state.deadline = e.deadline; },
  puzzle(e) {
    const sameNeuron = Boolean(state.neuron && e.neuron && state.neuron.id === e.neuron.id);
    const sameRound = sameNeuron && state.round === e.round;
    state.phase = "round"; state.round = e.round; state.deadline = e.deadline; newPuzzle(e);
    if (!sameRound) clearRound({ keepDraft: sameNeuron });
    feed(`Round ${e.round}: a new ${unitWord(e.neuron)}`);
  },
  explanation(e) {
    const x = e.explanation;
    const mine = state.me && x.player_id === state.me.id;
    if (mine && x.text == null) x.text = state.pendingSubmit?.text ?? state.myTexts.get(x.id) ?? null;
    if (mine && x.text != null) state.myTexts.set(x.id, x.text);
    state.explanations.set(x.id, x);
    if (state.me && x.player_id === state.me.id) { state.pendingSubmit = null; state.submittedRound = e.round; $("explain-error").textContent = ""; }
  },
  vote(e) {
    state.votes[e.explanation_id] = e.votes;
    if (state.me && e.player_id === state.me.id) {
      state.pendingVotes = state.pendingVotes.filter((id) => id !== e.explanation_id);
      // One vote a round: a new vote moves the old one, which comes back marked withdrawn.
      if (e.withdrawn) state.myVotes.delete(e.explanation_id); else state.myVotes.add(e.explanation_id);
    }
  },
  reveal(e) { state.phase = "reveal"; state.deadline = e.deadline; Object.assign(state.scores, e.scores); state.votes = { ...state.votes, ...e.votes }; if (!e.early) feed("Time is up: scoring…"); }, // early: flow.js says why
  score_progress(e) { state.progress.set(e.explanation_id, e); },
  score(e) {
    // A quest room's copy carries the score alone (rooms/blind.py); the author's own channel
    // brings the whole event, whichever comes first: the whole one is kept.
    const known = state.scoreEvents.get(e.explanation_id);
    state.scores[e.explanation_id] = e.score; state.progress.delete(e.explanation_id);
    if (!(e.hidden && known && !known.hidden)) state.scoreEvents.set(e.explanation_id, e);
    const mine = state.explanations.get(e.explanation_id);
    const whole = !state.scoreEvents.get(e.explanation_id).hidden;
    if (whole && mine && state.me && mine.player_id === state.me.id) showReveal(e.explanation_id);
  },
  round_end(e) { state.phase = "lobby"; state.top = e.top; Object.assign(state.scores, e.scores); },
  round_result(e) { if (!state.neuron || e.neuron_id === state.neuron.id) { state.result = e; showResult(); } },
  points(e) {
    for (const a of e.awards) {
      const who = state.members.get(a.player_id) || `#${a.player_id}`;
      feed(`${who}: +${a.amount} (${reasonText(a.reason)})`, "points");
      if (state.me && a.player_id === state.me.id) { state.me.points = (state.me.points || 0) + a.amount; toast(`+${a.amount} points: ${reasonText(a.reason)}`, "good"); }
    }
  },
  test_queued() { setChildren($("test-result"), el("p", { class: "computing", text: "Computing activations…" })); },
  activations(e) { showActivations(e); },
  shared_activations(e) {
    feed(`${e.player.name} shared a test:`);
    $("feed").prepend(el("li", { class: "shared" }, snippet(e.tokens, e.activations, scaleMax(e.max), { label: `${e.player.name}'s test`, windowed: false, display: e.display })));
  },
  notice(e) { feed(e.message, "notice"); },
  // -- streamer rooms (docs/protocol.md "Streamer rooms") --
  streamer(e) { state.streamer = e; if (e.audience !== undefined) state.audience = e.audience; },
  tally(e) { state.audience = e.audience; state.tally = e.votes || {}; },
  timer(e) { state.phase = e.phase || state.phase; state.deadline = e.deadline; state.paused = Boolean(e.paused); },
  submitted(e) { state.pendingSubmit = null; state.awaiting = e.explanation_id; feed("Your explanation waits for the host's approval."); },
  explanation_rejected(e) { if (state.awaiting === e.explanation_id) state.awaiting = null; toast("The host did not approve your explanation.", "error"); },
  explanation_removed(e) { state.explanations.delete(e.explanation_id); },
  voted() { toast("Vote counted", "good"); },
  kicked(e) {
    state.room = null;
    conn.forgetRoom();
    toast(e.reason === "banned" ? "The host banned you from this room." : "The host removed you from the room.", "error");
  },
  room_closed() { state.room = null; conn.forgetRoom(); toast("The host closed the room.", "error"); },
  error(e) { onError(e); },
};

function scaleMax(fallback) { return (state.neuron && state.neuron.max_activation) || fallback || 1; }

function onError(e) {
  if (e.ref === "submit" && state.pendingSubmit) {
    $("explanation").value = state.pendingSubmit.text;
    state.pendingSubmit = null;
    $("explain-error").textContent = e.message;
    return;
  }
  if (e.ref === "vote" && state.pendingVotes.length) {
    const id = state.pendingVotes.shift();
    state.votes[id] = Math.max(0, (state.votes[id] || 1) - 1);
    if (e.code === "double_vote") state.myVotes.add(id); else state.myVotes.delete(id);
    const item = document.querySelector(`[data-expl="${id}"] .item-error`);
    state.voteErrors = { ...(state.voteErrors || {}), [id]: e.message };
    if (item) item.textContent = e.message;
    return;
  }
  if (e.ref === "test_text" || e.request_id) { setChildren($("test-result"), el("p", { class: "field-error", text: e.message })); return; }
  if (e.ref === "join" || e.ref === "join_code") { $("join-error").textContent = e.message; state.joinFailed = true; return; }
  toast(e.message, "error");
}

// -- moves ------------------------------------------------------------------------------
export function submitExplanation(text) {
  const clean = text.trim();
  const max = state.limits.max_explanation_chars;
  if (!clean) { $("explain-error").textContent = "Write a few words first."; return; }
  if (clean.length > max) { $("explain-error").textContent = `At most ${max} characters.`; return; }
  if (state.phase !== "round") { $("explain-error").textContent = "Wait for the next round to submit."; return; }
  // The neuron the text was written for: the server refuses it if the round moved on.
  if (!conn.send({ type: "submit", text: clean, neuron_id: state.neuron?.id })) { $("explain-error").textContent = "You are offline: your text is kept, submit again when back online."; return; }
  state.pendingSubmit = { text: clean };
  $("explanation").value = "";
  $("explain-error").textContent = "";
  render();
}

function vote(id) {
  if (state.myVotes.has(id) || state.pendingVotes.includes(id)) return;
  if (!conn.send({ type: "vote", explanation_id: id })) { toast("Offline: vote again when you are back.", "error"); return; }
  state.pendingVotes.push(id);
  state.votes[id] = (state.votes[id] || 0) + 1;
  if (state.voteErrors) delete state.voteErrors[id];
  keepFocus(render); // the vote button just pressed is redrawn: focus stays on its explanation
}

// -- drawing ----------------------------------------------------------------------------
function explanationItem(x) {
  const me = state.me && x.player_id === state.me.id;
  const score = state.scores[x.id] ?? x.score;
  const voted = state.myVotes.has(x.id);
  const pending = state.pendingVotes.includes(x.id);
  const blind = blindRoom(state.room);
  const canVote = state.phase === "round" && state.me && !me && !blind;
  const text = x.text ?? state.myTexts.get(x.id) ?? null;
  const progress = state.progress.get(x.id);
  const scoreNode = el("span", { class: `score${score === null || score === undefined ? " none" : ""}`, "aria-label": "score" }, score === null || score === undefined ? "—" : fitBadge(score));
  const why = state.scoreEvents.has(x.id) && !state.scoreEvents.get(x.id).hidden
    ? el("button", { type: "button", class: "link", text: "why?", "aria-label": `why this score: ${text ?? "your explanation"}`, onclick: () => showReveal(x.id) }) : null;
  return el("li", { class: `expl${me ? " mine" : ""}${state.top === x.id ? " top" : ""}`, "data-expl": String(x.id) },
    el("div", { class: "expl-text" }, text === null ? el("em", { class: "hidden-text", text: HIDDEN }) : el("q", { text }), el("span", { class: "by", text: ` — ${x.player_name || "earlier player"}${me ? " (you)" : ""}` })),
    el("div", { class: "expl-meta" },
      scoreNode, why,
      progress ? el("progress", { max: String(progress.total), value: String(progress.done), "aria-label": "scoring progress" }) : null,
      blind ? null : el("button", {
        type: "button", class: `vote${voted ? " voted" : ""}${pending ? " pending" : ""}`, disabled: !canVote || voted || pending,
        "aria-pressed": voted ? "true" : "false", "aria-label": `vote for: ${text}`, onclick: () => vote(x.id),
      }, el("span", { "aria-hidden": "true", text: "▲ " }), el("span", { class: "count", text: String(state.votes[x.id] || 0) })),
    ),
    el("p", { class: "item-error", role: "alert", text: (state.voteErrors || {})[x.id] || "" }));
}

const PHASES = { lobby: "Between rounds", round: "Round", reveal: "Scoring" };

// The pill says "Scoring" only while a score is still coming: once this round's result waits for
// none, the reading time is the result's ("Scoring" over a finished result read as stuck).
// state.result is always this puzzle's (round_result filters it, a new puzzle clears it).
function phaseLabel() {
  if (state.phase === "reveal" && state.result && !state.result.waiting.length) return "Result";
  const label = PHASES[state.phase];
  return label ? `${label}${state.phase === "round" ? ` ${state.round}` : ""}` : state.phase;
}

export function render() {
  const n = state.neuron;
  $("room-code").textContent = state.room || "";
  $("phase").textContent = phaseLabel();
  $("phase").dataset.phase = state.phase;
  const word = unitWord(n);
  $("neuron-title").textContent = n ? `${capital(word)} ${n.index}` : `Waiting for a ${word}…`;
  const clues = state.clues.map((c, i) => snippet(c.tokens, c.activations, n ? n.max_activation : 1, { maxIndex: c.max_index, label: `clue ${i + 1}`, display: c.display }));
  const cluesBox = $("clues");
  if (cluesBox.dataset.neuron !== String(n?.id)) { setChildren(cluesBox, ...clues); cluesBox.dataset.neuron = String(n?.id); }
  const list = [...state.explanations.values()];
  const items = list.map(explanationItem);
  if (state.pendingSubmit) items.push(el("li", { class: "expl mine pending", "aria-busy": "true" }, el("div", { class: "expl-text" }, el("q", { text: state.pendingSubmit.text }), el("span", { class: "by", text: " — sending…" }))));
  setChildren($("explanations"), ...items);
  $("no-explanations").hidden = items.length > 0;
  const submitted = list.some((x) => state.me && x.player_id === state.me.id && x.neuron_id === n?.id) || state.pendingSubmit;
  $("submit").disabled = state.phase !== "round" || Boolean(submitted);
  $("explanation").disabled = state.phase !== "round" || Boolean(submitted);
  // Voting ends with the round: past it, "now vote" would send the player to closed buttons.
  $("explanation").placeholder = state.phase !== "round" ? "Wait for the next round…"
    : submitted ? (blindRoom(state.room) ? "Submitted: your score comes as soon as it is computed." : "Submitted: now vote for the best other explanation.")
    : `This ${word} fires on…`;
  setChildren($("members"), ...[...state.members.entries()].map(([id, name]) =>
    el("li", { class: state.me && id === state.me.id ? "you" : "" }, el("span", { class: "avatar", "aria-hidden": "true", text: (name || "?").trim().charAt(0).toUpperCase() }), el("span", { text: name }), state.streamer && id === state.streamer.host ? el("span", { class: "pill small host", text: "host" }) : null, state.me && id === state.me.id ? el("span", { class: "muted", text: " (you)" }) : null)));
  const count = state.count ?? state.members.size;
  const more = count - state.members.size;
  if (more > 0) $("members").append(el("li", { class: "muted", text: `and ${more} more` }));
  $("crowd").textContent = state.audience ? `${count} · ${state.audience} watching` : `${count}`;
}

export function tickTimer() {
  const t = $("timer");
  if (!state.deadline || !state.room) { t.textContent = ""; return; }
  const left = Math.max(0, Math.round(state.deadline - Date.now() / 1000));
  t.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  t.classList.toggle("urgent", left <= 10 && state.phase === "round");
}

async function showReveal(explanationId) {
  const e = state.scoreEvents.get(explanationId);
  const x = state.explanations.get(explanationId);
  const box = $("reveal");
  if (!e || !x || !state.neuron) return;
  const neuronId = state.neuron.id;
  box.hidden = false;
  setChildren(box, el("h2", { text: "Why this score" }), el("p", { class: "muted", text: "Loading the scored snippets…" }));
  box.scrollIntoView({ block: "nearest", behavior: "smooth" });
  const panel = await scoreReveal(e, neuronId, x.text);
  if (!state.neuron || state.neuron.id !== neuronId) return; // the round moved on meanwhile
  setChildren(box, el("h2", { text: "Why this score" }), panel);
  box.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

// The round's result (round_result events): shown at the top of the room until the next round.
function showResult() {
  const box = $("result");
  const first = box.hidden;
  box.hidden = false;
  $("phase").textContent = phaseLabel();
  setChildren(box, resultScreen(state.result, { me: state.me, neuronId: state.neuron?.id, scoreEvents: state.scoreEvents, myTexts: state.myTexts }));
  if (first) box.scrollIntoView({ block: "start", behavior: "smooth" });
}

// -- advanced mode ----------------------------------------------------------------------
function showActivations(e) {
  const box = $("test-result");
  const share = el("button", { type: "button", text: "Share with the room", onclick: () => {
    if (conn.send({ type: "share_activations", request_id: e.request_id })) { share.disabled = true; share.textContent = "Shared"; }
  } });
  setChildren(box,
    el("p", { class: "muted small", text: `max ${fmt(e.max, 2)} on “${(shown(e.tokens, e.display)[e.max_index] || "").trim()}”` }),
    snippet(e.tokens, e.activations, scaleMax(e.max), { maxIndex: e.max_index, label: "your text", windowed: false, display: e.display }),
    share);
}

export function testText(text) {
  const clean = text.trim();
  if (!clean) { setChildren($("test-result"), el("p", { class: "field-error", text: "Type some text to test." })); return; }
  if (!conn.send({ type: "test_text", text: clean, request_id: `t${Date.now().toString(36)}` })) {
    setChildren($("test-result"), el("p", { class: "field-error", text: "Offline: test again when you are back." }));
  }
}

async function loadNeuronStats(neuron) {
  const dl = $("neuron-stats");
  $("neuron-link").href = unitHref(neuron);
  setChildren(dl, el("dt", { text: "max" }), el("dd", { text: fmt(neuron.max_activation, 2) }));
  try {
    const { api } = await import("./api.js");
    const page = await api.get(`/neurons/${neuron.id}`);
    const s = page.stats || {};
    setChildren(dl,
      el("dt", { text: "max" }), el("dd", { text: fmt(s.max_activation, 2) }),
      el("dt", { text: "mean" }), el("dd", { text: fmt(s.mean_activation, 3) }),
      el("dt", { text: "fires on" }), el("dd", { text: s.firing_frequency === null || s.firing_frequency === undefined ? "–" : `${fmt(100 * s.firing_frequency, 1)}% of tokens` }),
    );
    drawHistogram($("histogram"), s.histogram);
  } catch { drawHistogram($("histogram"), null); }
}

export { feed, countUp };
