// Leaderboards with filters (board, period, country/team/room parameter) and "around me",
// keyset-paged with the server's cursors.
import { api } from "./api.js";
import { $, el, fmt, setChildren } from "./dom.js";

let specs = [];
let cursor = null;

let teams = [];
// The boards' list, loading: a page opened straight at #/boards shows its board once the
// filters know which board needs a value (before, it said "needs a filter value" for all).
let loaded = null;

function boardId() {
  const kind = $("board-kind").value;
  const spec = specs.find((s) => s.kind === kind);
  const param = kind === "team" ? $("board-team").value : $("board-param").value.trim();
  return spec && spec.needs_param ? `${kind}:${kind === "country" ? param.toUpperCase() : param}` : kind;
}

function syncFilters() {
  const spec = specs.find((s) => s.kind === $("board-kind").value);
  if (!spec) return;
  const period = $("board-period");
  const was = period.value;
  setChildren(period, ...spec.periods.map((p) => el("option", { value: p, text: p === "all" ? "all time" : p })));
  if (spec.periods.includes(was)) period.value = was;
  // The board of one team's members is chosen by the team's name, never by an internal id.
  const byTeam = spec.kind === "team";
  $("board-param-label").hidden = !spec.needs_param || byTeam;
  $("board-team-label").hidden = !byTeam;
  $("board-param").placeholder = spec.kind === "country" ? "DE" : "id";
  if (byTeam) loadTeams();
}

async function loadTeams() {
  try { teams = (await api.get("/teams")).teams; } catch { teams = []; }
  const was = $("board-team").value;
  setChildren($("board-team"), ...(teams.length ? teams.map((t) => el("option", { value: String(t.id), text: t.name }))
    : [el("option", { value: "", text: "no teams yet" })]));
  if (teams.some((t) => String(t.id) === was)) $("board-team").value = was;
}

function nameCell(r) {
  if ($("board-kind").value === "teams") return el("td", {}, el("a", { href: `#/teams/${r.id}`, text: r.name || "a team" }));
  return el("td", { text: r.name || "a player" });
}

function rows(items, me) {
  return items.map((r) => el("tr", { class: me && r.id === me ? "me" : "" },
    el("td", { class: "num", text: String(r.rank) }),
    nameCell(r),
    el("td", { class: "num", text: fmt(r.score, 0) })));
}

export async function showBoard(meId, { more = false } = {}) {
  if (loaded) await loaded;
  const body = $("board-table").tBodies[0];
  const error = $("board-error");
  error.textContent = "";
  if ($("board-param-label").hidden === false && !$("board-param").value.trim()) {
    setChildren(body);
    error.textContent = "This board needs a filter value (a country code…).";
    return;
  }
  if ($("board-team-label").hidden === false && !$("board-team").value) {
    setChildren(body);
    error.textContent = "Choose a team (there is none yet: create one on the Teams page).";
    return;
  }
  const id = encodeURIComponent(boardId());
  const period = encodeURIComponent($("board-period").value || "all");
  try {
    if ($("board-around").checked) {
      const page = await api.get(`/leaderboards/${id}/around?period=${period}&n=5${meId ? `&id=${meId}` : ""}`);
      setChildren(body, ...rows(page.items, meId));
      $("board-more").hidden = true;
      return;
    }
    const page = await api.get(`/leaderboards/${id}?period=${period}&limit=20${more && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    const drawn = rows(page.items, meId);
    if (more) body.append(...drawn); else setChildren(body, ...drawn);
    if (!page.items.length && !more) setChildren(body, el("tr", {}, el("td", { colspan: "3", class: "muted", text: "Nobody on this board yet." })));
    cursor = page.next_cursor;
    $("board-more").hidden = !cursor;
  } catch (err) {
    setChildren(body);
    error.textContent = err.status === 404 && $("board-around").checked ? "You are not on this board yet: play a round first." : err.message;
  }
}

export function initBoards(getMe) {
  loaded = loadBoards(getMe);
  return loaded;
}

async function loadBoards(getMe) {
  try {
    specs = (await api.get("/leaderboards")).boards.filter((s) => s.kind !== "room" && s.kind !== "quest");
  } catch (err) {
    $("board-error").textContent = err.message;
    return;
  }
  setChildren($("board-kind"), ...specs.map((s) => el("option", { value: s.kind, text: s.title })));
  syncFilters();
  $("board-kind").addEventListener("change", syncFilters);
  $("board-filters").addEventListener("submit", (ev) => { ev.preventDefault(); showBoard(getMe()); });
  $("board-more").addEventListener("click", () => showBoard(getMe(), { more: true }));
}
