// The host console: create a streamer room, run it, moderate it. The server enforces every
// right; this page only offers the buttons.
import { Connection } from "./connection.js";
import { $, el } from "./dom.js";

const state = { room: sessionStorage.getItem("nq.host.room"), host: null, code: null, revealed: false, members: [], explanations: new Map(), deadline: null, paused: false };

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
  $("summary").textContent = `${ev.started ? (ev.paused ? "paused" : "running") : "not started"} · ${ev.audience} in the audience · moderators: ${ev.moderators.join(", ") || "none"}`;
  $("banned").textContent = ev.banned.join(", ") || "nobody";
  $("pending").replaceChildren(...ev.pending.map((e) => {
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
  $("members").replaceChildren(...state.members.filter((m) => m.id !== state.host).map((m) => {
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
  $("explanations").replaceChildren(...[...state.explanations.values()].map((e) => {
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
      if (state.room) conn.send({ type: "join", room: state.room });
      break;
    case "room_created":
      state.room = ev.room; sessionStorage.setItem("nq.host.room", ev.room);
      break;
    case "room":
      state.members = ev.members;
      state.explanations = new Map((ev.explanations || []).map((e) => [e.id, e]));
      state.deadline = ev.deadline;
      $("create").hidden = true; $("console").hidden = false;
      renderMembers(); renderExplanations();
      break;
    case "host_state": renderHostState(ev); break;
    case "joined": state.members.push(ev.player); renderMembers(); break;
    case "left": state.members = state.members.filter((m) => m.id !== ev.player.id); renderMembers(); break;
    case "puzzle":
      state.explanations = new Map((ev.explanations || []).map((e) => [e.id, e]));
      state.deadline = ev.deadline; renderExplanations(); break;
    case "explanation": state.explanations.set(ev.explanation.id, ev.explanation); renderExplanations(); break;
    case "explanation_removed": state.explanations.delete(ev.explanation_id); renderExplanations(); break;
    case "timer": state.deadline = ev.deadline; state.paused = ev.paused; break;
    case "reveal": case "lobby": case "round_end": state.deadline = ev.deadline ?? null; break;
    case "room_closed":
      sessionStorage.removeItem("nq.host.room"); state.room = null;
      $("console").hidden = true; $("create").hidden = false; break;
    case "error": $("error").textContent = `${ev.code}: ${ev.message}`; setTimeout(() => { $("error").textContent = ""; }, 6000); break;
  }
}

$("create").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  conn.send({ type: "create_room", kind: "streamer", player_cap: Number(f.get("player_cap")), private: f.has("private"), approval: f.has("approval"), filter: f.get("filter") });
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
}, 250);

const conn = new Connection({ onEvent, onStatus: (status) => { $("status").textContent = status; } });
conn.open();
