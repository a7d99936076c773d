// Teams: create one, join by invite code or invite link (#/teams/join/CODE), leave; the team page
// shows points, rank, members and the invite (with a copy button). A captain challenges another
// team from its page; the other captain accepts there, and both teams find "Enter the match room"
// on their team page (polled while it is open). The live match view is teammatch.js.
import { api } from "./api.js";
import { $, el, fmt, setChildren, toast } from "./dom.js";

const POLL_MS = 5000;
let poll = null;
const seenRooms = new Set();

async function myTeamId(me) {
  try {
    return (await api.get(`/players/${me.id}/profile`)).team_id;
  } catch {
    return null;
  }
}

function form(label, id, placeholder, action, value = "") {
  const input = el("input", { id, maxlength: "40", placeholder, autocomplete: "off", value });
  const error = el("p", { class: "field-error", role: "alert" });
  const f = el("form", { class: "card" }, el("h2", { text: label }), el("label", { for: id, class: "sr-only", text: placeholder }),
    el("div", { class: "row" }, input, el("button", { type: "submit", text: label })), error);
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      await action(input.value.trim());
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return f;
}

export function inviteLink(code) {
  return `${location.origin}/#/teams/join/${encodeURIComponent(code)}`;
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    toast(`${what} copied`, "good");
  } catch {
    toast(`${what}: ${text}`);
  }
}

const rankText = (t) => (t.rank ? `#${t.rank}` : "unranked");

function standing(team) {
  return el("div", { class: "kpis" },
    el("div", { class: "kpi" }, el("strong", { id: "team-points", text: fmt(team.points ?? 0, 0) }), el("span", { text: "points" })),
    el("div", { class: "kpi" }, el("strong", { id: "team-rank", text: rankText(team) }), el("span", { text: "team rank" })),
    el("div", { class: "kpi" }, el("strong", { text: String(team.members.length) }), el("span", { text: team.members.length === 1 ? "member" : "members" })));
}

function memberList(team) {
  return el("ul", { class: "members", "aria-label": "members" }, team.members.map((m) => el("li", {},
    el("span", { class: "avatar", "aria-hidden": "true", text: (m.name || "?").charAt(0).toUpperCase() }),
    el("span", { text: m.name }), m.id === team.captain_id ? el("span", { class: "pill small", text: "captain" }) : null)));
}

function inviteBox(team) {
  if (!team.invite_code) return null;
  return el("div", { class: "invite" },
    el("p", {}, "Invite code ", el("code", { id: "team-invite", class: "code", text: team.invite_code })),
    el("div", { class: "row" },
      el("button", { type: "button", id: "team-copy-link", text: "Copy invite link", onclick: () => copy(inviteLink(team.invite_code), "Invite link") }),
      el("button", { type: "button", class: "ghost", id: "team-copy-code", text: "Copy code", onclick: () => copy(team.invite_code, "Invite code") })));
}

// -- challenges ----------------------------------------------------------------------------
function challengeRow(c, captain, refresh) {
  const others = c.teams.filter((t) => t.id !== c.challenger.id).map((t) => t.name).join(", ");
  const title = c.incoming ? `${c.challenger.name} challenges you` : `You challenged ${others}`;
  const answer = (verb) => async () => {
    try {
      const done = await api.post(`/matches/challenges/${encodeURIComponent(c.id)}/${verb}`);
      if (done.match) { location.hash = `#/room/${encodeURIComponent(done.match.room)}`; return; }
      toast(verb === "accept" ? "Accepted: waiting for the other teams" : "Challenge closed", "good");
      refresh();
    } catch (err) { toast(err.message, "error"); }
  };
  const actions = [];
  if (c.status === "accepted" && c.room) {
    actions.push(el("a", { class: "button primary", href: `#/room/${encodeURIComponent(c.room)}`, text: "Enter the match room" }));
  } else if (c.status === "pending" && captain && c.awaiting_us) {
    actions.push(el("button", { type: "button", class: "primary", text: "Accept", onclick: answer("accept") }),
      el("button", { type: "button", class: "ghost", text: "Decline", onclick: answer("decline") }));
  } else if (c.status === "pending" && captain) {
    actions.push(el("button", { type: "button", class: "ghost", text: "Withdraw", onclick: answer("decline") }));
  }
  const waiting = c.status === "pending"
    ? `waiting for ${c.awaiting_us ? "your captain" : c.teams.filter((t) => !t.accepted).map((t) => t.name).join(", ")}`
    : c.status === "accepted" ? "accepted: the match room is open" : c.status;
  return el("li", { class: `challenge ${c.status}`, "data-challenge": c.id },
    el("div", {}, el("strong", { text: title }),
      el("p", { class: "muted small", text: `${c.rounds} ${c.rounds === 1 ? "round" : "rounds"} × ${Math.round(c.round_s / 60 * 10) / 10} min · ${waiting}` })),
    el("div", { class: "row" }, actions));
}

function challengeForm(teamId, others, refresh) {
  const pick = el("select", { id: "challenge-team" }, others.map((t) => el("option", { value: String(t.id), text: `${t.name} (${rankText(t)})` })));
  const rounds = el("select", { id: "challenge-rounds" }, [1, 3, 5].map((n) => el("option", { value: String(n), text: `${n} rounds`, selected: n === 3 })));
  const length = el("select", { id: "challenge-length" }, [60, 120, 180].map((s) => el("option", { value: String(s), text: `${s / 60} min`, selected: s === 120 })));
  const error = el("p", { class: "field-error", role: "alert" });
  const f = el("form", { id: "challenge-form" },
    el("label", { for: "challenge-team", text: "Challenge a team" }),
    el("div", { class: "row" }, pick, rounds, length, el("button", { type: "submit", class: "primary", text: "Challenge" })), error);
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      await api.post("/matches", { teams: [teamId, Number(pick.value)], rounds: Number(rounds.value), round_s: Number(length.value) });
      toast("Challenge sent: their captain answers on their team page", "good");
      refresh();
    } catch (err) { error.textContent = err.message; }
  });
  return others.length ? f : el("p", { class: "muted", text: "No other team to challenge yet: share your invite so friends start one." });
}

async function drawChallenges(box, team, me) {
  let list = [];
  try { list = (await api.get(`/teams/${team.id}/challenges`)).challenges; } catch { return; }
  const captain = me && me.id === team.captain_id;
  const redraw = () => drawChallenges(box, team, me);
  const open = list.filter((c) => c.status !== "declined");
  for (const c of open) {
    if (c.room && !seenRooms.has(c.room)) {
      if (seenRooms.size) toast(`Your match against ${c.challenger.name === team.name ? "them" : c.challenger.name} is ready`, "good");
      seenRooms.add(c.room);
    }
  }
  setChildren(box, open.length
    ? el("ul", { class: "challenges" }, open.map((c) => challengeRow(c, captain, redraw)))
    : el("p", { class: "muted", text: captain ? "No challenges yet." : "No challenges yet: your captain challenges other teams." }));
}

function teamRows(teams, mine) {
  return el("table", { class: "board", id: "team-list" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "#" }), el("th", { scope: "col", text: "Team" }),
      el("th", { scope: "col", text: "Members" }), el("th", { scope: "col", text: "Points" }))),
    el("tbody", {}, teams.map((t) => el("tr", { class: t.id === mine ? "me" : "" },
      el("td", { class: "num", text: t.rank ? String(t.rank) : "–" }),
      el("td", {}, el("a", { href: `#/teams/${t.id}`, text: t.name })),
      el("td", { class: "num", text: String(t.members) }),
      el("td", { class: "num", text: fmt(t.points, 0) })))));
}

// -- pages ---------------------------------------------------------------------------------
async function allTeams() {
  try { return (await api.get("/teams")).teams; } catch { return []; }
}

function stopPolling() { if (poll) { clearInterval(poll); poll = null; } }

export async function showTeams(me, refresh, arg = "", extra = "") {
  stopPolling();
  const root = $("teams-body");
  if (!me) return;
  const teamId = await myTeamId(me);
  const teams = await allTeams();
  if (arg && /^\d+$/.test(arg) && Number(arg) !== teamId) return showOtherTeam(me, Number(arg), teamId, teams);
  if (!teamId) {
    const code = arg === "join" ? decodeURIComponent(extra || "") : "";
    setChildren(root,
      el("h1", { text: "Teams" }),
      el("p", { class: "muted", text: "Play for a team: your points also count for it, and teams meet in team matches." }),
      code ? el("p", { class: "notice", text: "You were invited to a team: press Join to enter it." }) : null,
      el("div", { class: "grid-2" },
        form("Join a team", "team-code", "invite code", async (c) => { await api.post("/teams/join", { code: c }); toast("Welcome to the team", "good"); location.hash = "#/teams"; refresh(); }, code),
        form("Create a team", "team-name", "team name", async (name) => { await api.post("/teams", { name }); toast("Team created", "good"); refresh(); })),
      teams.length ? el("section", { class: "card" }, el("h2", { text: "All teams" }), teamRows(teams, null)) : null);
    if (code) $("team-code").focus();
    return;
  }
  const { team } = await api.get(`/teams/${teamId}`);
  const captain = me.id === team.captain_id;
  const challenges = el("div", { id: "team-challenges" }, el("p", { class: "muted", text: "Loading…" }));
  setChildren(root,
    el("div", { class: "card team-card" },
      el("p", { class: "eyebrow", text: "Your team" }),
      el("h1", { id: "team-title", text: team.name }),
      standing(team), memberList(team), inviteBox(team),
      el("button", { type: "button", class: "ghost", id: "team-leave", text: "Leave the team", onclick: async () => {
        try { await api.post("/teams/leave"); refresh(); } catch (err) { toast(err.message, "error"); }
      } })),
    el("section", { class: "card", "aria-labelledby": "matches-h" },
      el("h2", { id: "matches-h", text: "Team matches" }),
      challenges,
      captain ? challengeForm(team.id, teams.filter((t) => t.id !== team.id), () => drawChallenges(challenges, team, me)) : null),
    el("section", { class: "card" }, el("h2", { text: "All teams" }), teamRows(teams, team.id)));
  await drawChallenges(challenges, team, me);
  poll = setInterval(() => {
    if (document.body.dataset.view !== "teams") { stopPolling(); return; }
    drawChallenges(challenges, team, me);
  }, POLL_MS);
}

function challengeThem(me, mine, teams, team) {
  const own = teams.find((t) => t.id === mine);
  if (!own || own.captain_id !== me.id) return mine ? el("p", { class: "muted small", text: "Your captain can challenge this team." }) : null;
  return el("button", { type: "button", class: "primary", id: "challenge-them", text: `Challenge ${team.name}`, onclick: async () => {
    try {
      await api.post("/matches", { teams: [mine, team.id], rounds: 3, round_s: 120 });
      toast("Challenge sent: their captain answers on their team page", "good");
      location.hash = "#/teams";
    } catch (err) { toast(err.message, "error"); }
  } });
}

async function showOtherTeam(me, id, mine, teams) {
  const root = $("teams-body");
  let team;
  try { team = (await api.get(`/teams/${id}`)).team; } catch (err) {
    setChildren(root, el("p", { class: "field-error", role: "alert", text: err.message }), el("a", { href: "#/teams", text: "Back to teams" }));
    return;
  }
  setChildren(root,
    el("div", { class: "card team-card" },
      el("p", { class: "eyebrow" }, el("a", { href: "#/teams", text: "Teams" }), " / team"),
      el("h1", { id: "team-title", text: team.name }),
      standing(team), memberList(team),
      challengeThem(me, mine, teams, team)),
    el("section", { class: "card" }, el("h2", { text: "All teams" }), teamRows(teams, mine)));
}
