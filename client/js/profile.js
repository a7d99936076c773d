// The player's profile: points, ranks, daily streak, badges (from the API) and a history of the
// explanations this browser wrote with their scores (kept locally: the API has no per-player
// history yet).
import { api } from "./api.js";
import { $, el, fmt } from "./dom.js";
import { fitBadge } from "./fit.js";

const HISTORY_KEY = "nq.history";
const BADGE_ICONS = { first_explanation: "✍️", first_daily: "📅", points_1000: "🏆", team_win: "🤝" };

export function remember(entry) {
  const list = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]").filter((h) => h.id !== entry.id);
  list.unshift(entry);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, 50)));
}

export async function showProfile(me) {
  const root = $("profile-body");
  if (!me) {
    root.replaceChildren(el("p", { class: "muted", text: "Connecting…" }));
    return;
  }
  let p;
  try {
    p = await api.get(`/players/${me.id}/profile`);
  } catch (err) {
    root.replaceChildren(el("p", { class: "field-error", role: "alert", text: err.message }));
    return;
  }
  const history = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
  const badges = p.achievements || [];
  root.replaceChildren(
    el("div", { class: "profile-head card" },
      el("span", { class: "avatar big", "aria-hidden": "true", text: (p.player.name || "?").charAt(0).toUpperCase() }),
      el("div", {},
        el("h1", { text: p.player.name }),
        el("p", { class: "muted", text: [p.player.country, p.team_id ? `team #${p.team_id}` : "no team"].filter(Boolean).join(" · ") })),
      el("div", { class: "kpis" },
        el("div", { class: "kpi" }, el("strong", { text: String(p.points) }), el("span", { text: "points" })),
        el("div", { class: "kpi" }, el("strong", { text: String(p.streak.current) }), el("span", { text: "day streak" })),
        el("div", { class: "kpi" }, el("strong", { text: String(p.streak.best) }), el("span", { text: "best streak" })))),
    el("div", { class: "grid-2" },
      el("section", { class: "card", "aria-labelledby": "badges-h" },
        el("h2", { id: "badges-h", text: "Badges" }),
        badges.length
          ? el("ul", { class: "badges" }, badges.map((b) => el("li", { class: "badge", title: b.description },
            el("span", { class: "badge-icon", "aria-hidden": "true", text: BADGE_ICONS[b.code] || "⭐" }),
            el("strong", { text: b.title }), el("span", { class: "small muted", text: b.description }))))
          : el("p", { class: "muted", text: "No badges yet: write your first explanation." })),
      el("section", { class: "card", "aria-labelledby": "ranks-h" },
        el("h2", { id: "ranks-h", text: "Ranks" }),
        (p.ranks || []).length
          ? el("ul", { class: "ranks" }, p.ranks.map((r) => el("li", {}, el("span", { text: `${r.board} (${r.period})` }), el("strong", { text: `#${r.rank}` }), el("span", { class: "muted", text: ` ${fmt(r.score, 0)}` }))))
          : el("p", { class: "muted", text: "Not ranked yet." }))),
    el("section", { class: "card", "aria-labelledby": "history-h" },
      el("h2", { id: "history-h", text: "History" }),
      history.length
        ? el("ol", { class: "history" }, history.map((h) => el("li", {},
          el("q", { text: h.text }), el("span", { class: "muted", text: ` neuron ${h.neuron} · ${new Date(h.at).toLocaleDateString()}` }),
          el("span", { class: "score" }, h.score === null || h.score === undefined ? "—" : fitBadge(h.score)))))
        : el("p", { class: "muted", text: "Explanations you write on this device appear here." })),
  );
}
