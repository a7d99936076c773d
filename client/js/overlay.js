// The stream overlay: read-only view of a streamer room (no controls, nothing to click).
import { capital, unitWord } from "./units.js";
import { Connection } from "./connection.js";
import { $, setChildren } from "./dom.js";
import { cutBefore, shown, wordWindow } from "./tokens.js";

const params = new URLSearchParams(location.search);
const overlayToken = params.get("overlay");
const roomCode = params.get("room");

const view = { closed: false, room: null, neuron: null, clues: [], explanations: new Map(), votes: {}, tally: {}, deadline: null, paused: false };

// Read from across a room: words with their spaces (WordPiece pieces joined), a window of about
// 24 tokens around the brightest one, wrapped inside the 1920 px frame.
const AROUND = 12;

function shade(clue) {
  const max = Math.max(...clue.activations, 1e-9);
  const mi = clue.activations.reduce((best, a, i) => (a > clue.activations[best] ? i : best), 0);
  const words = shown(clue.tokens, clue.display); // the server's display text; "" for [CLS] & co
  const [start, end] = wordWindow(words, mi, AROUND, AROUND);
  const spans = words.slice(start, end).map((t, k) => {
    const i = start + k;
    const a = Math.max(0, clue.activations[i]) / max;
    const span = document.createElement("span");
    span.className = "tok";
    span.textContent = words[i];
    span.style.background = `rgba(255, 140, 0, ${a.toFixed(2)})`;
    if (i === mi) span.classList.add("max");
    return span;
  });
  const cut = cutBefore(clue.tokens, clue.display, start);
  if (cut) {
    const mark = document.createElement("span");
    mark.className = `cut cut-${cut}`;
    mark.textContent = "…";
    spans.unshift(mark);
  }
  return [...spans, end < clue.tokens.length ? " …" : ""];
}

function renderPuzzle() {
  $("neuron").textContent = view.closed ? "The room is closed. Thanks for watching!" : view.neuron ? `${capital(unitWord(view.neuron))} ${view.neuron.index}: what does it fire on?` : "Waiting for the host…";
  setChildren($("clues"), ...view.clues.slice(0, 5).map((clue) => {
    const li = document.createElement("li");
    li.append(...shade(clue));
    return li;
  }));
}

function renderExplanations() {
  const rows = [...view.explanations.values()].map((e) => {
    const votes = (view.votes[e.id] || 0) + (view.tally[e.id] || 0);
    return { e, votes };
  }).sort((a, b) => b.votes - a.votes);
  const top = Math.max(1, ...rows.map((r) => r.votes));
  setChildren($("explanations"), ...rows.map(({ e, votes }) => {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = `${e.text} — ${e.player_name || "machine"}`;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = `${votes} votes${typeof e.score === "number" ? ` · fit ${Math.round(100 * e.score)}/100` : ""}`;
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${(100 * votes) / top}%`;
    li.append(text, count, bar);
    return li;
  }));
}

// The round's podium (round_result): who explained the neuron best, until the next round.
function renderResult(result) {
  const box = $("result-box");
  box.hidden = !result || !result.podium.length;
  if (box.hidden) return;
  const byId = new Map(result.entries.map((x) => [x.explanation_id, x]));
  setChildren($("podium"), ...result.podium.map((id, i) => {
    const x = byId.get(id);
    const li = document.createElement("li");
    li.textContent = `${["1st", "2nd", "3rd"][i]} ${x.author}: “${x.text}” · fit ${Math.round(100 * x.score)}/100`;
    return li;
  }));
}

async function renderBoard() {
  if (!view.room) return;
  try {
    const res = await fetch(`/api/v1/leaderboards/${encodeURIComponent(`room:${view.room}`)}?limit=5`);
    if (!res.ok) return;
    const body = await res.json();
    setChildren($("board"), ...body.items.map((item) => {
      const li = document.createElement("li");
      li.textContent = `${item.name ?? item.member} — ${item.score}`;
      return li;
    }));
  } catch { /* the board is decoration; the next points event retries */ }
}

function setExplanations(list) {
  view.explanations = new Map(list.map((e) => [e.id, e]));
}

function onEvent(ev) {
  switch (ev.type) {
    case "welcome":
      if (overlayToken) conn.send({ type: "watch", overlay: overlayToken });
      else if (roomCode) conn.send({ type: "join_code", code: roomCode });
      break;
    case "room":
      view.room = ev.room;
      view.neuron = ev.neuron;
      view.clues = ev.clues || [];
      view.deadline = ev.deadline;
      view.votes = ev.votes || {};
      setExplanations(ev.explanations || []);
      $("overlay").hidden = false;
      renderPuzzle(); renderExplanations(); renderBoard();
      break;
    case "puzzle":
      view.neuron = ev.neuron; view.clues = ev.clues; view.deadline = ev.deadline;
      view.votes = {}; view.tally = {};
      setExplanations(ev.explanations || []);
      renderPuzzle(); renderExplanations(); renderResult(null);
      break;
    case "explanation":
      view.explanations.set(ev.explanation.id, ev.explanation); renderExplanations(); break;
    case "explanation_removed":
      view.explanations.delete(ev.explanation_id); renderExplanations(); break;
    case "vote":
      view.votes[ev.explanation_id] = ev.votes; renderExplanations(); break;
    case "score": {
      const e = view.explanations.get(ev.explanation_id);
      if (e) { e.score = ev.score; renderExplanations(); }
      break;
    }
    case "tally":
      view.tally = ev.votes;
      $("crowd").textContent = `${ev.audience} watching · ${ev.voters} voted`;
      renderExplanations();
      break;
    case "streamer":
      view.paused = ev.paused;
      $("host-line").textContent = ev.host_name ? `Hosted by ${ev.host_name}` : "";
      $("code").hidden = !ev.code;
      $("code").textContent = ev.code || "";
      break;
    case "timer":
      view.deadline = ev.deadline; view.paused = ev.paused; break;
    case "reveal": case "lobby": case "round_end":
      view.deadline = ev.deadline ?? null; break;
    case "points":
      renderBoard(); break;
    case "round_result":
      renderResult(ev); break;
    case "room_closed":
      // A clean closed state: no old clues, no explanations, no ticking timer.
      Object.assign(view, { closed: true, neuron: null, clues: [], explanations: new Map(), votes: {}, tally: {}, deadline: null, paused: false });
      $("crowd").textContent = "";
      $("code").hidden = true;
      document.body.classList.add("closed");
      renderPuzzle(); renderExplanations(); setChildren($("board"));
      break;
    case "error":
      $("status").textContent = ev.message; break;
  }
}

setInterval(() => {
  const left = view.deadline ? Math.max(0, Math.round(view.deadline - Date.now() / 1000)) : null;
  $("timer").textContent = view.paused ? "paused" : left === null ? "" : `${left}s`;
}, 250);

const onStatus = (status) => { $("status").textContent = status === "online" ? "" : status; };
const conn = new Connection({ onEvent, onStatus, rejoin: false }); // it enters by ``watch`` each time
conn.open();
