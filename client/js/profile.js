// The player's profile: points, ranks (in words, never board keys), daily streak, badges earned
// and still locked (with how to earn them), a history of the explanations this browser wrote
// (each a link to its neuron's page), and the account: register, log in, log out, move device.
import { api } from "./api.js";
import { $, el, fmt, setChildren, toast } from "./dom.js";
import { fitBadge } from "./fit.js";

const HISTORY_KEY = "nq.history";
const BADGE_ICONS = { first_explanation: "✍️", first_top: "🥇", first_daily: "📅", streak_7: "🔥", streak_30: "🌋", points_1000: "🏆", team_win: "🤝" };

export function remember(entry) {
  const list = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]").filter((h) => h.id !== entry.id);
  list.unshift(entry);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, 50)));
}

function periodText(period) {
  if (period === "all") return "all time";
  if (period.startsWith("d:")) return "today";
  if (period.startsWith("w:")) return "this week";
  if (period.startsWith("m:")) return "this month";
  return period;
}

// "points (d:2026-11-29)" reads "All players · today"; quest boards name the quest.
export function rankLabel(r, p, quests = {}) {
  const [kind, param] = r.board.split(":");
  const when = periodText(r.period);
  switch (kind) {
    case "points": return `All players · ${when}`;
    case "country": return `Players of ${param} · ${when}`;
    case "region": return `Players of ${param} · ${when}`;
    case "team": return `${p.team ? p.team.name : "Your team"} (members) · ${when}`;
    case "teams": return `Teams · ${when}`;
    case "quest": return quests[param] || "A quest";
    default: return `${kind} · ${when}`;
  }
}

async function questNames() {
  const names = {};
  for (const kind of ["daily", "weekly"]) {
    try {
      const q = await api.get(`/quests/${kind}`);
      names[q.id] = kind === "daily" ? `Daily puzzle ${q.period}` : `Weekly quest ${q.period}`;
    } catch { /* not open yet */ }
  }
  return names;
}

function historyRow(h) {
  const what = `${h.word || "neuron"} ${h.neuron}`; // "feature 12" for an SAE campaign's unit
  const where = h.campaign ? el("a", { href: `/neurons/${encodeURIComponent(h.campaign)}/${h.neuron}`, text: what }) : what;
  return el("li", {}, el("q", { text: h.text }), el("span", { class: "muted" }, " ", where, ` · ${new Date(h.at).toLocaleDateString()}`),
    el("span", { class: "score" }, h.score === null || h.score === undefined ? "—" : fitBadge(h.score)));
}

// A badge's description says what was done ("Wrote a first explanation."); a locked one says
// what to do.
const VERBS = { wrote: "write", solved: "solve", earned: "earn", won: "win" };
function howTo(description) {
  return description.replace(/^(\w+)/, (w) => VERBS[w.toLowerCase()] || w.toLowerCase());
}

function badgeList(earned, locked) {
  return el("ul", { class: "badges" },
    earned.map((b) => el("li", { class: "badge", title: b.description },
      el("span", { class: "badge-icon", "aria-hidden": "true", text: BADGE_ICONS[b.code] || "⭐" }),
      el("strong", { text: b.title }), el("span", { class: "small muted", text: b.description }))),
    locked.map((b) => el("li", { class: "badge locked", "data-code": b.code },
      el("span", { class: "badge-icon", "aria-hidden": "true", text: "🔒" }),
      el("strong", { text: b.title }), el("span", { class: "small muted", text: `To earn: ${howTo(b.description)}` }))));
}

// -- the account ---------------------------------------------------------------------------
async function session(path, body) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const token = localStorage.getItem("nq.token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || `HTTP ${response.status}`);
  return data;
}

function credentials(id, action, label) {
  const login = el("input", { id: `${id}-login`, autocomplete: "username", maxlength: "64", required: true });
  const password = el("input", { id: `${id}-password`, type: "password", autocomplete: id === "register" ? "new-password" : "current-password", maxlength: "256", required: true });
  const error = el("p", { class: "field-error", role: "alert" });
  const form = el("form", { id: `${id}-form`, class: "account-form" },
    el("label", { for: `${id}-login`, text: "Login" }), login,
    el("label", { for: `${id}-password`, text: "Password" }), password,
    el("button", { type: "submit", class: "primary", text: label }), error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try { await action(login.value.trim(), password.value); } catch (err) { error.textContent = err.message; }
  });
  return form;
}

function accountCard(me) {
  const registered = Boolean(me.login) || me.guest === false;
  const signIn = credentials("login", async (login, password) => {
    const data = await session("/api/login", { login, password });
    localStorage.setItem("nq.token", data.token);
    location.reload(); // the socket reconnects as the account
  }, "Log in");
  const register = credentials("register", async (login, password) => {
    const data = await session("/api/register", { login, password });
    // Register rotates the session: the guest token stops working, the account's comes back.
    if (data.token) localStorage.setItem("nq.token", data.token);
    toast("Account saved: log in with it on any device", "good");
    location.reload();
  }, "Save my account");
  const logout = el("button", { type: "button", class: "ghost", id: "logout", text: "Log out", onclick: async () => {
    try { await session("/api/logout", {}); } catch { /* an older server has no logout: forgetting the token is enough here */ }
    localStorage.removeItem("nq.token");
    location.reload();
  } });
  return el("section", { class: "card", id: "account", "aria-labelledby": "account-h" },
    el("h2", { id: "account-h", text: "Account" }),
    registered
      ? el("p", { class: "muted", text: `Signed in as ${me.login || me.name}. Your points and badges are saved in your account: on another device, log in with the same login and password.` })
      : el("p", { class: "muted", text: "You play as a guest on this browser. Save an account to keep your points and play on another device (your points come along)." }),
    el("div", { class: "grid-2" },
      registered ? null : el("div", {}, el("h3", { text: "Save an account" }), register),
      el("div", {}, el("h3", { text: registered ? "Switch account" : "Already have one? Log in" }), signIn)),
    registered ? logout : null);
}

export async function showProfile(me, onPoints = () => {}) {
  const root = $("profile-body");
  if (!me) {
    setChildren(root, el("p", { class: "muted", text: "Connecting…" }));
    return;
  }
  let p;
  try {
    p = await api.get(`/players/${me.id}/profile`);
  } catch (err) {
    setChildren(root, el("p", { class: "field-error", role: "alert", text: err.message }));
    return;
  }
  onPoints(p.points);
  const quests = await questNames();
  const history = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
  const ranks = (p.ranks || []).filter((r) => r.board !== "teams");
  setChildren(root,
    el("div", { class: "profile-head card" },
      el("span", { class: "avatar big", "aria-hidden": "true", text: (p.player.name || "?").charAt(0).toUpperCase() }),
      el("div", {},
        el("h1", { text: p.player.name }),
        el("p", { class: "muted" }, [p.player.country ? `${p.player.country} · ` : "",
          p.team ? el("a", { href: `#/teams/${p.team.id}`, id: "profile-team", text: p.team.name }) : el("a", { href: "#/teams", text: "no team: join one" })])),
      el("div", { class: "kpis" },
        el("div", { class: "kpi" }, el("strong", { text: String(p.points) }), el("span", { text: "points" })),
        el("div", { class: "kpi" }, el("strong", { text: String(p.streak.current) }), el("span", { text: "day streak" })),
        el("div", { class: "kpi" }, el("strong", { text: String(p.streak.best) }), el("span", { text: "best streak" })))),
    el("div", { class: "grid-2" },
      el("section", { class: "card", "aria-labelledby": "badges-h" },
        el("h2", { id: "badges-h", text: "Badges" }), badgeList(p.achievements || [], p.locked || [])),
      el("section", { class: "card", "aria-labelledby": "ranks-h" },
        el("h2", { id: "ranks-h", text: "Ranks" }),
        ranks.length
          ? el("ul", { class: "ranks", id: "ranks" }, ranks.map((r) => el("li", {}, el("span", { text: rankLabel(r, p, quests) }),
            el("strong", { text: `#${r.rank}` }), el("span", { class: "muted", text: ` of ${r.size} · ${fmt(r.score, 0)} pts` }))))
          : el("p", { class: "muted", text: "Not ranked yet: play a round." }))),
    el("section", { class: "card", "aria-labelledby": "history-h" },
      el("h2", { id: "history-h", text: "History" }),
      history.length
        ? el("ol", { class: "history" }, history.map(historyRow))
        : el("p", { class: "muted", text: "Explanations you write on this device appear here." })),
    accountCard(me),
  );
}
