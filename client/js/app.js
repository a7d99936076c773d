// The browser client's entry point: one connection, a hash router over the views, and the
// lobby's forms. Every screen is drawn from the protocol's events (docs/protocol.md) or the
// /api/v1 JSON; see game.js (the room), onboarding.js, quests.js, boards.js, teams.js, profile.js.
import { Connection } from "./connection.js";
import { $, el, toast } from "./dom.js";
import { bindConnection, handlers, render, state, submitExplanation, testText, tickTimer } from "./game.js";
import { keepDestination, onboarded, startOnboarding, takeDestination } from "./onboarding.js";
import { loadQuests } from "./quests.js";
import { statusKnown, defaultCampaign, watchFirstStart } from "./firststart.js";
import { campaignPicker, readyCampaigns, unitsWord } from "./campaigns.js";
import { initBoards, showBoard } from "./boards.js";
import { remember, showProfile } from "./profile.js";
import { showTeams } from "./teams.js";
import { teamMatchEvent } from "./teammatch.js";
import { dailyEvent } from "./dailyloop.js";
import { WATCH_KEY, audienceEvent, drawAudience } from "./audienceview.js";
import { keepFocus } from "./keepfocus.js";
import { flowEvent, renderFlow } from "./flow.js";
import { applyHomeWords, defaultWord, unitWord } from "./units.js";

const VIEWS = ["learn", "lobby", "room", "teams", "boards", "profile"];
let view = null;

function showView(name) {
  view = name;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== name;
  document.querySelectorAll("nav a").forEach((a) => {
    if (a.dataset.view === name || (name === "room" && a.dataset.view === "lobby")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  document.body.dataset.view = name;
}

function route() {
  const [, name, arg, extra] = (location.hash || "").split("/");
  if (!onboarded() && name !== "learn" && !localStorage.getItem("nq.skipTour")) { keepDestination(location.hash); location.hash = "#/learn"; return; }
  switch (name) {
    case "learn": showView("learn"); startOnboarding(() => { location.hash = takeDestination() || (state.room ? `#/room/${state.room}` : "#/play"); }); break;
    case "room":
      if (arg && arg !== state.room) joinRoom(decodeURIComponent(arg));
      showView("room"); render(); break;
    case "teams": showView("teams"); showTeams(state.me, () => route(), arg, extra); break;
    case "boards": showView("boards"); showBoard(state.me?.id); break;
    case "profile": showView("profile"); showProfile(state.me, (points) => { if (state.me) { state.me.points = points; updateMe(); } }); break;
    default: showView("lobby"); loadQuests(state.me, enterRoom);
  }
  $("main").focus({ preventScroll: true });
}

// Streamer rooms have four-letter codes without vowels (and none of I L O U V Y).
const STREAMER_CODE = /^[BCDFGHJKMNPQRSTWXZ]{6}$/i;

function joinRoom(id) {
  const code = id.replace(/[\s-]/g, "");
  if (STREAMER_CODE.test(code) && sessionStorage.getItem(WATCH_KEY) === code.toUpperCase()) {
    sessionStorage.removeItem(WATCH_KEY);
    conn.room = null; conn.v = null;
    conn.send({ type: "join_code", code: code.toUpperCase(), audience: true });
  } else if (STREAMER_CODE.test(code)) conn.joinCode(code.toUpperCase());
  else conn.join(id);
}

function enterRoom(room) { location.hash = `#/room/${encodeURIComponent(room)}`; }

function setStatus(status, info) {
  const badge = $("conn");
  badge.dataset.status = status;
  badge.textContent = { online: "online", connecting: "connecting…", reconnecting: "reconnecting…", offline: "offline", closed: "disconnected" }[status] || status;
  const offline = status === "offline" || status === "reconnecting" || status === "closed";
  $("offline").hidden = !offline || !state.me;
  if (status === "offline") $("offline-text").textContent = `Reconnecting in ${Math.max(1, Math.round(info / 1000))} s… Your typing is kept; submits and votes are not sent while offline.`;
  if (status === "reconnecting") $("offline-text").textContent = "Reconnecting…";
  if (status === "closed") $("offline-text").textContent = "This page speaks an older protocol: reload it.";
  document.body.classList.toggle("is-offline", offline);
}

function updateMe() {
  if (!state.me) return;
  $("me").textContent = `${state.me.name} · ${state.me.points ?? 0} pts`;
  if (document.activeElement !== $("name")) $("name").value = state.me.name;
  if (document.activeElement !== $("country") && state.me.country) $("country").value = state.me.country;
}

const conn = new Connection({
  onEvent(e) {
    const firstWelcome = e.type === "welcome" && !state.me;
    (handlers[e.type] || (() => {}))(e);
    teamMatchEvent(e, state);
    audienceEvent(e, state);
    dailyEvent(e, state, () => { conn.forgetRoom(); state.room = null; location.hash = "#/play"; });
    flowEvent(e, state);
    if (e.type === "private_room") enterRoom(e.room);
    if (e.type === "room" && view !== "room" && view !== "learn") location.hash = `#/room/${encodeURIComponent(e.room)}`;
    if (e.type === "room" && view === "room" && location.hash !== `#/room/${encodeURIComponent(e.room)}`) history.replaceState(null, "", `#/room/${encodeURIComponent(e.room)}`);
    if ((e.type === "left" && !e.v) || e.type === "kicked" || e.type === "room_closed") { if (view === "room") location.hash = "#/play"; }
    if (e.type === "error" && (e.ref === "join" || e.ref === "join_code") && view === "room") location.hash = "#/play";
    if (e.type === "score") {
      const x = state.explanations.get(e.explanation_id);
      if (x && state.me && x.player_id === state.me.id) remember({ id: x.id, text: x.text, neuron: state.neuron ? state.neuron.index : "?", campaign: state.neuron?.campaign, word: unitWord(state.neuron), score: e.score, at: Date.now() });
    }
    if (e.type === "explanation" && state.me && e.explanation.player_id === state.me.id) {
      remember({ id: e.explanation.id, text: e.explanation.text, neuron: state.neuron ? state.neuron.index : "?", campaign: state.neuron?.campaign, word: unitWord(state.neuron), score: null, at: Date.now() });
    }
    updateMe();
    if (view === "room") keepFocus(() => { render(); renderFlow(state, conn); drawAudience(state); });
    if (firstWelcome && view === "lobby") loadQuests(state.me, enterRoom);
    if (firstWelcome && (view === "profile" || view === "teams" || view === "boards")) route();
  },
  onStatus: setStatus,
});
bindConnection(conn);

// -- forms ------------------------------------------------------------------------------
$("quick-play").onclick = () => enterRoom("lobby");
$("join-form").onsubmit = (ev) => {
  ev.preventDefault();
  const code = $("join-code").value.trim();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(code)) { $("join-error").textContent = "A room code is letters, digits, - or _."; return; }
  $("join-error").textContent = "";
  if ($("join-watch").checked) {
    if (!STREAMER_CODE.test(code)) { $("join-error").textContent = "Only streamer rooms (6-letter codes) have an audience."; return; }
    sessionStorage.setItem(WATCH_KEY, code.toUpperCase());
  }
  enterRoom(code);
};
// A private room: the server makes it (with you as its creator) and puts you in its lobby.
// The creator picks its campaign when more than one is installed (the server checks the name).
$("create-room").onclick = () => {
  const picked = $("create-campaign")?.value;
  const msg = picked ? { type: "create_private", campaign: picked } : { type: "create_private" };
  if (!conn.send(msg)) toast("Offline: try again when you are back.", "error");
};
$("name-form").onsubmit = (ev) => {
  ev.preventDefault();
  const msg = { type: "rename", name: $("name").value.trim() };
  const c = $("country").value.trim().toUpperCase();
  if (c) msg.country = c;
  if (!msg.name) return;
  conn.send(msg);
  toast("Saved", "good");
};
$("leave").onclick = () => { conn.leave(); state.room = null; location.hash = "#/play"; };
$("room-code").onclick = async () => {
  // The link, not just the code: a friend who opens it lands in this room (through the tutorial if new).
  const link = `${location.origin}/#/room/${encodeURIComponent(state.room || "")}`;
  try { await navigator.clipboard.writeText(link); toast("Invite link copied", "good"); } catch { toast(`Invite link: ${link}`); }
};
$("explain-form").onsubmit = (ev) => { ev.preventDefault(); submitExplanation($("explanation").value); };
$("explanation").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); submitExplanation($("explanation").value); }
});
$("explanation").addEventListener("input", () => {
  const n = $("explanation").value.length;
  const max = state.limits.max_explanation_chars;
  $("counter").textContent = `${n} / ${max}`;
  $("counter").classList.toggle("near", n > max * 0.9);
});
$("test-form").onsubmit = (ev) => { ev.preventDefault(); testText($("test-text").value); };

initBoards(() => state.me?.id);
// The country picker: ISO 3166 names from the server (pycountry), the codes a rename accepts.
fetch("/api/countries").then((r) => r.json()).then(({ countries }) => {
  const select = $("country");
  const was = state.me?.country || select.value;
  select.append(...countries.map((c) => el("option", { value: c.code, text: c.name })));
  if (was) select.value = was;
}).catch(() => {});
setInterval(tickTimer, 500);
window.addEventListener("hashchange", route);
conn.open();
route();
watchFirstStart(() => { if (view === "lobby") loadQuests(state.me, enterRoom); });
// The home page and nav in the right unit, and the campaign picker, once the server said which
// campaign is the default and which are installed.
statusKnown.then(async () => {
  const campaigns = await readyCampaigns();
  applyHomeWords(defaultWord(), campaigns.length ? unitsWord(campaigns) : null);
  const picker = campaignPicker(campaigns, defaultCampaign(), "create-campaign");
  if (picker) { $("create-campaign-field").append(picker); $("create-campaign-field").hidden = false; }
});
