// The team-match view: live team scores while a match runs. It listens for team-match events
// when the server sends them (docs/protocol.md) and stays hidden otherwise.
import { $, el, fmt, setChildren } from "./dom.js";

const match = { teams: new Map(), round: null, of: null, state: null, room: null };
const STATES = { lobby: "waiting for both teams", review: "scoring the round", finished: "final result" };

function draw() {
  const box = $("team-match");
  if (!match.teams.size) { box.hidden = true; return; }
  box.hidden = false;
  const rows = [...match.teams.values()].sort((a, b) => b.score - a.score);
  const best = Math.max(0.0001, ...rows.map((r) => r.score));
  setChildren(box,
    el("h2", { text: `Team match${match.round !== null ? ` · round ${match.round}${match.of ? ` of ${match.of}` : ""}` : ""}${STATES[match.state] ? ` · ${STATES[match.state]}` : ""}` }),
    el("ol", { class: "team-scores" }, rows.map((r) => el("li", {},
      el("span", { class: "team-name", text: r.name || `Team ${r.team_id}` }),
      el("span", { class: "team-bar", style: `--w:${Math.max(0, r.score / best).toFixed(3)}`, "aria-hidden": "true" }),
      el("strong", { class: "num", text: fmt(r.score, 2) })))));
}

export function teamMatchEvent(e) {
  // Another room (or another match) clears the panel: teams of an old match must not linger.
  if ((e.type === "room" || e.type === "team_match") && e.room && e.room !== match.room) {
    Object.assign(match, { teams: new Map(), round: null, state: null, room: e.room });
    if (e.type === "room") { draw(); return; }
  }
  const standings = e.standings || e.team_scores || (e.match && e.match.standings);
  if (!String(e.type || "").startsWith("team_match") && !standings) return;
  if (Array.isArray(standings)) {
    for (const s of standings) match.teams.set(s.team_id ?? s.id, { team_id: s.team_id ?? s.id, name: s.name || s.team_name, score: Number(s.score ?? s.total ?? 0) });
  }
  if (e.round !== undefined) match.round = e.round;
  if (e.of !== undefined) match.of = e.of;
  if (e.state) match.state = e.state;
  draw();
}
