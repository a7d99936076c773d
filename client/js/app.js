// A minimal, protocol-driven client: every screen is drawn from the events in docs/protocol.md.
import { Connection } from "./protocol.js";

const $ = (id) => document.getElementById(id);
const state = { me: null, room: null, phase: "lobby", deadline: null, neuron: null, clues: [],
  explanations: new Map(), scores: {}, votes: {}, members: new Map(), top: null };

function log(text, cls = "") {
  const li = document.createElement("li");
  li.textContent = text;
  if (cls) li.className = cls;
  $("log").prepend(li);
}

function shade(tokens, activations, max) {
  const div = document.createElement("div");
  div.className = "clue";
  tokens.forEach((tok, i) => {
    const span = document.createElement("span");
    const level = max > 0 ? Math.max(0, activations[i]) / max : 0;
    span.className = "tok";
    span.textContent = tok;
    span.title = activations[i].toFixed(3);
    span.style.background = `rgba(255, 120, 0, ${Math.min(1, level).toFixed(2)})`;
    div.append(span);
  });
  return div;
}

function render() {
  $("game").hidden = !state.room;
  $("room-title").textContent = state.room ? `Room ${state.room}` : "";
  $("phase").textContent = state.phase;
  const n = state.neuron;
  $("neuron").textContent = n ? `Neuron ${n.index} of ${n.campaign} (max ${n.max_activation.toFixed(2)})` : "Waiting for a puzzle…";
  $("clues").replaceChildren(...state.clues.map((c) => shade(c.tokens, c.activations, n ? n.max_activation : 1)));
  const items = [...state.explanations.values()].map((e) => {
    const li = document.createElement("li");
    if (state.top === e.id) li.className = "top";
    li.append(`${e.text} — ${e.player_name || "?"}`);
    const score = state.scores[e.id] ?? e.score;
    if (score !== null && score !== undefined) {
      const s = document.createElement("span"); s.className = "score"; s.textContent = Number(score).toFixed(2); li.append(s);
    }
    const v = document.createElement("span"); v.className = "votes"; v.textContent = `${state.votes[e.id] || 0} votes`; li.append(v);
    if (state.phase === "round" && state.me && e.player_id !== state.me.id) {
      const b = document.createElement("button"); b.textContent = "Vote";
      b.onclick = () => conn.send({ type: "vote", explanation_id: e.id });
      li.append(" ", b);
    }
    return li;
  });
  $("explanations").replaceChildren(...items);
  $("members").replaceChildren(...[...state.members.entries()].map(([id, name]) => {
    const li = document.createElement("li"); li.textContent = name + (state.me && id === state.me.id ? " (you)" : ""); return li;
  }));
}

function newPuzzle(e) {
  state.neuron = e.neuron; state.clues = e.clues || []; state.top = null;
  state.explanations = new Map((e.explanations || []).map((x) => [x.id, x]));
  state.scores = e.scores || {}; state.votes = e.votes || {};
}

const handlers = {
  welcome(e) {
    const saved = localStorage.getItem("nq.room");
    if (!state.room && saved) conn.send({ type: "join", room: saved });
    state.me = e.player; $("me").textContent = `${e.player.name} · ${e.player.points ?? 0} points`; $("name").value = e.player.name; },
  room(e) {
    state.room = e.room; localStorage.setItem("nq.room", e.room); state.phase = e.phase; state.deadline = e.deadline;
    state.members = new Map(e.members.map((m) => [m.id, m.name]));
    newPuzzle(e);
  },
  joined(e) { state.members.set(e.player.id, e.player.name); },
  left(e) { state.members.delete(e.player.id); if (state.me && e.player.id === state.me.id && e.room) { state.room = null; localStorage.removeItem("nq.room"); conn.forgetRoom(); } },
  renamed(e) { if (state.members.has(e.player.id)) state.members.set(e.player.id, e.player.name); if (state.me && e.player.id === state.me.id) { state.me.name = e.player.name; $("me").textContent = e.player.name; } },
  lobby(e) { state.phase = "lobby"; state.deadline = e.deadline; },
  puzzle(e) { state.phase = "round"; state.deadline = e.deadline; newPuzzle(e); log(`Round ${e.round}: a new neuron`); },
  explanation(e) { state.explanations.set(e.explanation.id, e.explanation); },
  vote(e) { state.votes[e.explanation_id] = e.votes; },
  reveal(e) { state.phase = "reveal"; state.deadline = e.deadline; Object.assign(state.scores, e.scores); log("Time is up: scoring…"); },
  score_progress(e) { log(`Scoring #${e.explanation_id}: ${e.done}/${e.total}`); },
  score(e) { state.scores[e.explanation_id] = e.score; },
  round_end(e) { state.phase = "lobby"; state.top = e.top; Object.assign(state.scores, e.scores); },
  points(e) {
    for (const a of e.awards) log(`${state.members.get(a.player_id) || "#" + a.player_id}: +${a.amount} (${a.reason})`);
  },
  test_queued(e) { $("test-result").textContent = "Computing…"; },
  activations(e) {
    const box = $("test-result");
    box.replaceChildren(shade(e.tokens, e.activations, (state.neuron && state.neuron.max_activation) || e.max || 1));
    const b = document.createElement("button"); b.textContent = "Share with the room";
    b.onclick = () => conn.send({ type: "share_activations", request_id: e.request_id });
    box.append(b);
  },
  shared_activations(e) { log(`${e.player.name} shared a test:`); $("log").prepend(shade(e.tokens, e.activations, (state.neuron && state.neuron.max_activation) || e.max || 1)); },
  notice(e) { log(e.message); },
  error(e) { log(`${e.code}: ${e.message}`, "error"); },
};

const conn = new Connection((e) => { (handlers[e.type] || (() => {}))(e); render(); }, (s) => { $("status").textContent = s; });

$("join-form").onsubmit = (ev) => { ev.preventDefault(); conn.forgetRoom(); conn.send({ type: "join", room: $("room").value.trim() }); };
$("name-form").onsubmit = (ev) => {
  ev.preventDefault();
  const msg = { type: "rename", name: $("name").value };
  const c = $("country").value.trim().toUpperCase(); if (c) msg.country = c;
  conn.send(msg);
};
$("submit-form").onsubmit = (ev) => { ev.preventDefault(); conn.send({ type: "submit", text: $("explanation").value }); $("explanation").value = ""; };
$("test-form").onsubmit = (ev) => { ev.preventDefault(); conn.send({ type: "test_text", text: $("test-text").value, request_id: `t${Date.now()}` }); };
setInterval(() => {
  $("timer").textContent = state.deadline ? `${Math.max(0, Math.round(state.deadline - Date.now() / 1000))}s` : "";
}, 500);
conn.open();
render();
