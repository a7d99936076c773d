// The round's result screen (the round_result event, rooms/round_result.py): a podium for the
// top three, the winning explanation with the three snippets that best show why it scored
// (the rest on demand), every explanation ranked with author, votes and points, and what each
// player earned and why.
import { roomWord } from "./units.js";
import { el, setChildren } from "./dom.js";
import { fit, fitBadge, reasonText } from "./fit.js";
import { scoreReveal } from "./reveal.js";

const PLACES = ["1st", "2nd", "3rd"];

// A quest room's result carries no texts (rooms/blind.py): the player's own is remembered.
export const HIDDEN = "hidden until the quest closes";
function textOf(x, ctx) { return x.text ?? ctx.myTexts?.get(x.explanation_id) ?? null; }
function quote(text) { return text === null ? el("em", { class: "hidden-text", text: HIDDEN }) : el("q", { text }); }

function podium(result, ctx) {
  const byId = new Map(result.entries.map((x) => [x.explanation_id, x]));
  const steps = result.podium.map((id, i) => ({ x: byId.get(id), place: i }));
  // Drawn 2nd-1st-3rd, the winner in the middle and highest.
  const order = [1, 0, 2].map((p) => steps.find((s) => s.place === p)).filter(Boolean);
  return el("ol", { class: "podium", "aria-label": "podium" }, order.map(({ x, place }) =>
    el("li", { class: `step step-${place + 1}`, value: String(place + 1) },
      el("span", { class: "place", text: PLACES[place] }),
      el("span", { class: "who", text: x.author }),
      fitBadge(x.score),
      textOf(x, ctx) === null ? el("em", { class: "podium-text hidden-text", text: HIDDEN }) : el("q", { class: "podium-text", text: textOf(x, ctx) }))));
}

function pointsList(points) {
  if (!points.length) return null;
  return el("ul", { class: "entry-points" }, points.map((p) =>
    el("li", { text: `+${p.amount} ${p.name}: ${reasonText(p.reason)}` })));
}

function entryRow(x, ctx) {
  const me = ctx.me;
  const mine = me && x.player_id === me.id;
  return el("li", { class: `entry${mine ? " mine" : ""}${x.earlier ? " earlier" : ""}`, "data-result-expl": String(x.explanation_id) },
    el("span", { class: "rank", text: `#${x.rank}` }),
    el("div", { class: "entry-body" },
      quote(textOf(x, ctx)),
      el("span", { class: "by", text: ` — ${x.author}${mine ? " (you)" : ""}${x.earlier ? " · earlier round" : ""}` }),
      pointsList(x.points)),
    el("div", { class: "entry-side" },
      fitBadge(x.score),
      el("span", { class: "votes", text: `${x.votes} vote${x.votes === 1 ? "" : "s"}` })));
}

function playersTable(result, me) {
  const rows = result.players.map((p) => el("tr", { class: me && p.player_id === me.id ? "me" : "" },
    el("th", { scope: "row", text: p.name }),
    el("td", { class: "num", text: `+${p.total}` }),
    el("td", { class: "why", text: p.awards.length ? p.awards.map((a) => `+${a.amount} ${reasonText(a.reason)}`).join(" · ") : "no points this round" })));
  return el("table", { class: "board round-points" },
    el("caption", { text: "Points this round" }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Player" }), el("th", { scope: "col", class: "num", text: "Points" }), el("th", { scope: "col", text: "Why" }))),
    el("tbody", {}, rows));
}

// result: the round_result event; ctx: { me, neuronId, scoreEvents: Map(explanation id -> score event) }.
export function resultScreen(result, ctx) {
  const winner = result.entries.find((x) => x.explanation_id === result.top) || null;
  const waiting = result.waiting.length;
  // Every score in: these are the points, stored when the reading time ends (a player's total
  // in the header moves then), not at some later "end of the round" the screen does not show.
  const status = result.final ? "Final result" : waiting ? `Scoring ${waiting} more explanation${waiting === 1 ? "" : "s"}…` : "Points are added when this result closes";
  const box = el("div", { class: "result-body" },
    el("div", { class: "result-head" },
      el("h2", { text: `Round ${result.round} result` }),
      el("span", { class: `result-status${result.final ? " final" : ""}`, text: status })));
  if (!result.entries.length) {
    box.append(el("p", { class: "muted", text: `Nobody explained this ${roomWord()} this round.` }));
    return box;
  }
  if (result.podium.length) box.append(podium(result, ctx));
  if (winner && winner.score !== null) {
    const f = fit(winner.score);
    const why = el("div", { class: "winner-why" }, el("p", { class: "muted small", text: "Loading the snippets that show why…" }));
    box.append(el("section", { class: "winner", "aria-label": "winning explanation" },
      el("p", { class: "eyebrow", text: "Winning explanation" }),
      el("p", { class: "winner-line" }, quote(textOf(winner, ctx)), el("span", { class: "by", text: ` — ${winner.author}` })),
      el("p", { class: "winner-fit" }, fitBadge(winner.score, { big: true }), el("span", { class: "sentence", text: ` ${f.sentence}` })),
      why));
    const e = ctx.scoreEvents.get(winner.explanation_id);
    if (e && ctx.neuronId && textOf(winner, ctx) !== null) {
      scoreReveal(e, ctx.neuronId, textOf(winner, ctx), { best: 3, compact: true }).then((panel) => setChildren(why, panel)).catch(() => setChildren(why));
    } else {
      setChildren(why);
    }
  }
  box.append(el("ol", { class: "entries", "aria-label": "every explanation, ranked" }, result.entries.map((x) => entryRow(x, ctx))));
  box.append(playersTable(result, ctx.me));
  return box;
}
