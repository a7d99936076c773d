// The host console: create a streamer room, run it, moderate it. The server enforces every
// right; this page only offers the buttons.
import { Connection } from "./connection.js";
import { $, el, setChildren } from "./dom.js";
import { snippet } from "./tokens.js";
import { campaignPicker, readyCampaigns } from "./campaigns.js";

const state = { room: sessionStorage.getItem("nq.host.room"), host: null, code: null, revealed: false, members: [], explanations: new Map(), deadline: null, paused: false,
  started: false, phase: "lobby", round: 0, audience: 0, neuron: null, clues: [] };

// The live line: what the players see right now, how many watch, how long is left.
function renderLive() {
  const left = state.deadline ? Math.max(0, Math.round(state.deadline - Date.now() / 1000)) : null;
  const clock = left === null ? "" : ` · ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left`;
  const phase = !state.started ? "Not started: press Start when your players are in"
    : state.paused ? `Paused (round ${state.round})`
    : state.phase === "round" ? `Round ${state.round} running${clock}`
    : state.phase === "reveal" ? `Round ${state.round}: showing the results${clock}`
    : `Between rounds${clock}`;
  $("live-status").textContent = phase;
  $("live-audience").textContent = String(state.audience);
  $("live-players").textContent = String(state.members.filter((m) => m.id !== state.host).length);
  $("live-explanations").textContent = String(state.explanations.size);
}

function renderClues() {
  const max = state.neuron ? state.neuron.max_activation : 1;
  setChildren($("host-clues"), ...(state.clues.length
    ? state.clues.map((c, i) => snippet(c.tokens, c.activations, max, { maxIndex: c.max_index, label: `clue ${i + 1}`, display: c.display }))
    : [el("p", { class: "muted", text: "Press Start: the first puzzle's clues appear here." })]));
}

function button(label, onClick, cls) {
  return el("button", { type: "button", text: label, onclick: onClick, class: cls });
}

function renderCode() {
  $("code").textContent = state.revealed && state.code ? state.code : "••••";
  $("reveal").textContent = state.revealed ? "Hide" : "Reveal";
}

function renderHostState(ev) {
  state.code = ev.code;
  renderCode();
  $("room-id").textContent = ev.room;
  $("overlay-url").value = `${location.origin}/static/overlay.html?overlay=${encodeURIComponent(ev.overlay)}`;
  for (const name of ["locked", "private", "approval", "show_code"]) $(name).checked = !!ev[name];
  $("player_cap").value = ev.player_cap;
  $("filter").value = ev.filter;
  state.started = ev.started; state.paused = ev.paused; state.audience = ev.audience;
  $("summary").textContent = `moderators: ${ev.moderators.join(", ") || "none"}`;
  renderLive();
  $("banned").textContent = ev.banned.join(", ") || "nobody";
  setChildren($("pending"), ...ev.pending.map((e) => {
    const li = document.createElement("li");
    li.append(`${e.player_name}: ${e.text} `,
      button("Approve", () => conn.send({ type: "approve", explanation_id: e.id })),
      button("Reject", () => conn.send({ type: "reject", explanation_id: e.id }), "danger"));
    return li;
  }));
  state.moderators = ev.moderators;
  renderMembers();
}

function renderMembers() {
  setChildren($("members"), ...state.members.filter((m) => m.id !== state.host).map((m) => {
    const li = document.createElement("li");
    const isMod = (state.moderators || []).includes(m.id);
    li.append(`${m.name} (#${m.id}${isMod ? ", moderator" : ""}) `,
      button(isMod ? "Unmod" : "Make moderator", () => conn.send({ type: "set_moderator", player_id: m.id, on: !isMod })),
      button("Kick", () => conn.send({ type: "kick", player_id: m.id })),
      button("Ban", () => conn.send({ type: "ban", player_id: m.id }), "danger"));
    return li;
  }));
}

function renderExplanations() {
  setChildren($("explanations"), ...[...state.explanations.values()].map((e) => {
    const li = document.createElement("li");
    li.append(`${e.player_name || "machine"}: ${e.text} `,
      button("Remove", () => conn.send({ type: "remove_explanation", explanation_id: e.id }), "danger"));
    return li;
  }));
}

function onEvent(ev) {
  switch (ev.type) {
    case "welcome":
      state.host = ev.player.id;
      // The name players and the stream will see: the player's own (a registered name, or the
      // last one chosen here) until the host types their channel's.
      if (!$("host-name").value) $("host-name").value = ev.player.name;
      $("host-shown").textContent = ev.player.name;
      if (state.room) conn.send({ type: "join", room: state.room });
      if (createWhenWelcomed) { conn.send(createWhenWelcomed); createWhenWelcomed = null; $("error").textContent = ""; }
      break;
    case "room_created":
      state.room = ev.room; sessionStorage.setItem("nq.host.room", ev.room);
      break;
    case "room":
      state.members = ev.members; state.phase = ev.phase; state.round = ev.round || 0;
      state.neuron = ev.neuron || null; state.clues = ev.clues || []; renderClues();
      state.explanations = new Map((ev.explanations || []).map((e) => [e.id, e]));
      state.deadline = ev.deadline;
      $("create").hidden = true; $("console").hidden = false;
      // The campaign picked when the room was made (none: the default campaign).
      $("host-puzzles").textContent = ev.campaign ? `Puzzles: the ${ev.word || "neuron"}s of campaign ${ev.campaign}` : "Puzzles: the default campaign's";
      renderMembers(); renderExplanations();
      break;
    case "host_state": renderHostState(ev); break;
    case "renamed": $("host-shown").textContent = ev.player.name; break;
    case "members": { // joins and leaves together (docs/protocol.md): names updated in place
      const named = new Map(ev.joined.map((m) => [m.id, m]));
      const gone = new Set(ev.left);
      const kept = state.members.filter((m) => !gone.has(m.id)).map((m) => named.get(m.id) || m);
      const known = new Set(kept.map((m) => m.id));
      state.members = [...kept, ...ev.joined.filter((m) => !known.has(m.id))]; renderMembers(); break;
    }
    case "left": state.members = state.members.filter((m) => m.id !== ev.player.id); renderMembers(); break;
    case "puzzle":
      state.explanations = new Map((ev.explanations || []).map((e) => [e.id, e]));
      state.started = true; state.phase = "round"; state.round = ev.round || state.round + 1;
      state.neuron = ev.neuron; state.clues = ev.clues || []; renderClues();
      state.deadline = ev.deadline; renderExplanations(); break;
    case "streamer": state.started = ev.started; state.paused = ev.paused; state.audience = ev.audience ?? state.audience; break;
    case "tally": case "crowd": if (typeof ev.audience === "number") state.audience = ev.audience; break;
    case "explanation": state.explanations.set(ev.explanation.id, ev.explanation); renderExplanations(); break;
    case "explanation_removed": state.explanations.delete(ev.explanation_id); renderExplanations(); break;
    case "timer": state.deadline = ev.deadline; state.paused = ev.paused; break;
    case "reveal": state.phase = "reveal"; state.deadline = ev.deadline ?? null; break;
    case "lobby": case "round_end": state.phase = "lobby"; state.deadline = ev.deadline ?? null; break;
    case "room_closed":
      sessionStorage.removeItem("nq.host.room"); state.room = null;
      $("console").hidden = true; $("create").hidden = false; break;
    default: break;
  }
  renderLive();
  switch (ev.type) {
    case "error": $("error").textContent = `${ev.code}: ${ev.message}`; setTimeout(() => { $("error").textContent = ""; }, 6000); break;
  }
}

// "Create room" pressed before the server's welcome (the page just loaded, or a reconnect) waits
// for it: the connection drops what it cannot send, and the button used to do nothing at all.
let createWhenWelcomed = null;
$("create").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const msg = { type: "create_room", kind: "streamer", host_name: String(f.get("host_name") || "").trim(), player_cap: Number(f.get("player_cap")), private: f.has("private"), approval: f.has("approval"), filter: f.get("filter") };
  if (f.get("campaign")) msg.campaign = f.get("campaign"); // the server checks it is installed
  if (state.host != null && conn.send(msg)) return;
  createWhenWelcomed = msg;
  $("error").textContent = "Connecting to the server: the room is created as soon as it answers.";
});
// The campaign picker, when more than one campaign is installed (the default one first).
Promise.all([fetch("/api/status").then((r) => r.json()).catch(() => ({})), readyCampaigns()]).then(([status, campaigns]) => {
  const picker = campaignPicker(campaigns, status.campaign, "host-campaign");
  if (picker) { $("host-campaign-field").append(picker); $("host-campaign-field").hidden = false; }
});
$("reveal").onclick = () => { state.revealed = !state.revealed; renderCode(); };
for (const b of document.querySelectorAll("[data-cmd]")) {
  b.onclick = () => {
    const type = b.dataset.cmd;
    if (type === "close_room" && !confirm("Close the room for everyone?")) return;
    conn.send(type === "extend" ? { type, seconds: 30 } : { type });
  };
}
for (const name of ["locked", "private", "approval", "show_code"]) {
  $(name).onchange = () => conn.send({ type: "room_settings", [name]: $(name).checked });
}
$("player_cap").onchange = () => conn.send({ type: "room_settings", player_cap: Number($("player_cap").value) });
$("filter").onchange = () => conn.send({ type: "room_settings", filter: $("filter").value });
setInterval(() => {
  const left = state.deadline ? Math.max(0, Math.round(state.deadline - Date.now() / 1000)) : null;
  $("timer").textContent = state.paused ? "paused" : left === null ? "" : `${left}s left`;
  if (!$("console").hidden) renderLive();
}, 250);

const conn = new Connection({ onEvent, onStatus: (status) => { $("status").textContent = status; } });
conn.open();
