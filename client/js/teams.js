// Teams: create one, join by invite code, leave; the team page lists members. The live team
// match view (team scores as the match runs) is drawn by teammatch.js from room events.
import { api } from "./api.js";
import { $, el, toast } from "./dom.js";

async function myTeamId(me) {
  try {
    return (await api.get(`/players/${me.id}/profile`)).team_id;
  } catch {
    return null;
  }
}

function form(label, id, placeholder, action) {
  const input = el("input", { id, maxlength: "40", placeholder, autocomplete: "off" });
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

export async function showTeams(me, refresh) {
  const root = $("teams-body");
  if (!me) return;
  const teamId = await myTeamId(me);
  if (!teamId) {
    root.replaceChildren(
      el("h1", { text: "Teams" }),
      el("p", { class: "muted", text: "Play for a team: your points also count for it, and teams meet in team matches." }),
      el("div", { class: "grid-2" },
        form("Create a team", "team-name", "team name", async (name) => { await api.post("/teams", { name }); toast("Team created", "good"); refresh(); }),
        form("Join a team", "team-code", "invite code", async (code) => { await api.post("/teams/join", { code }); toast("Welcome to the team", "good"); refresh(); })));
    return;
  }
  const { team } = await api.get(`/teams/${teamId}`);
  root.replaceChildren(
    el("div", { class: "card team-card" },
      el("p", { class: "eyebrow", text: "Your team" }),
      el("h1", { id: "team-title", text: team.name }),
      team.invite_code ? el("p", {}, "Invite code ", el("code", { id: "team-invite", class: "code", text: team.invite_code })) : null,
      el("ul", { class: "members" }, team.members.map((m) => el("li", {},
        el("span", { class: "avatar", "aria-hidden": "true", text: (m.name || "?").charAt(0).toUpperCase() }),
        el("span", { text: m.name }), m.id === team.captain_id ? el("span", { class: "pill small", text: "captain" }) : null))),
      el("button", { type: "button", class: "ghost", id: "team-leave", text: "Leave the team", onclick: async () => {
        try { await api.post("/teams/leave"); refresh(); } catch (err) { toast(err.message, "error"); }
      } })),
  );
}
