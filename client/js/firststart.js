// First start: while the default campaign is still being mined, a "Preparing puzzles: 43%"
// banner (from GET /api/status, fed by the mining job's progress) and quest cards that say
// when they open. Polls until ready, then reloads the lobby's cards once.
import { $, el } from "./dom.js";
import { defaultWord, setDefaultWord } from "./units.js";

const POLL_MS = 2000;
let last = null;
let timer = null;

export const preparing = () => (last && !last.ready ? last : null);
// The default campaign's name (null before the first answer).
export const defaultCampaign = () => last?.campaign ?? null;
// Settles after the first answer of /api/status (or its failure): the lobby asks for the quests
// only once it knows the puzzles are ready (asking earlier answers 404, a red console line).
let known;
export const statusKnown = new Promise((resolve) => { known = resolve; });

function minutes(s) {
  if (!s) return "";
  return s < 90 ? " · less than 2 min left" : ` · about ${Math.round(s / 60)} min left`;
}

export function preparingText(p = preparing()) {
  return p ? `Preparing puzzles: ${p.percent}%${minutes(p.eta_s)}` : "";
}

function draw() {
  const p = preparing();
  let banner = $("preparing");
  if (!p) { if (banner) banner.remove(); return; }
  if (!banner) {
    banner = el("div", { id: "preparing", class: "preparing", role: "status", "aria-live": "polite" },
      el("p", { id: "preparing-text" }), el("div", { class: "progress", "aria-hidden": "true" }, el("span", {})),
      el("p", { class: "small muted", text: `The first start reads the bundled texts once to find what each ${defaultWord()} fires on. Quick play, the daily and the weekly open when it is done.` }));
    $("main").prepend(banner);
  }
  $("preparing-text").textContent = preparingText(p);
  banner.querySelector(".progress span").style.width = `${p.percent}%`;
}

async function check(onReady) {
  try {
    const r = await fetch("/api/status", { headers: { Accept: "application/json" } });
    if (!r.ok) return;
    const was = preparing();
    last = await r.json();
    setDefaultWord(last.word); // what the default campaign's puzzles are called, for the lobby
    draw();
    if (last.ready) {
      clearInterval(timer);
      timer = null;
      if (was) onReady();
    }
  } catch { /* offline: the connection badge says so; try again on the next tick */ } finally { known(); }
}

export function watchFirstStart(onReady) {
  check(onReady);
  if (!timer) timer = setInterval(() => check(onReady), POLL_MS);
}
