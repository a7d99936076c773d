// The installed campaigns a room can play (GET /api/v1/campaigns, the ready ones): the picker
// a room's creator (the lobby's "Create a room", the host console) chooses from, and the
// words of pages that are about every campaign at once ("Browse neurons & features").
// The server checks the choice (create_private / create_room "campaign": docs/protocol.md).
import { el } from "./dom.js";

const SOURCE = { sae: "SAE", transcoder: "transcoder" };
let loaded = null;

// The ready campaigns, once per page (the list changes only when one is mined).
export function readyCampaigns() {
  loaded ||= fetch("/api/v1/campaigns?limit=100", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : { items: [] }))
    .then((page) => page.items.filter((c) => c.status === "ready"))
    .catch(() => []);
  return loaded;
}

export const wordOf = (c) => (c.unit === "latent" ? "feature" : "neuron");

// One line that says what a campaign's puzzles are: "features of SAE s · minilm-l6, layer 3".
export function describe(c) {
  const what = c.unit === "latent" ? `features of ${SOURCE[c.source_kind] || "SAE"} ${c.source}` : "neurons";
  return `${what} · ${c.model}, layer ${c.layer}`;
}

// "neurons", "features" or "neurons & features": what the installed campaigns hold.
export function unitsWord(campaigns) {
  const words = new Set(campaigns.map(wordOf));
  if (words.size === 2) return "neurons & features";
  return words.has("feature") ? "features" : "neurons";
}

// The reference pages' words for every campaign at once: the crumb back to the index, the
// search box, the index's own title (ids of neurons.html / neuron.html / index.html).
export async function applyBrowseWords() {
  const campaigns = await readyCampaigns();
  if (!campaigns.length) return;
  const units = unitsWord(campaigns);
  for (const id of ["crumb-browse", "nav-browse"]) {
    const node = document.getElementById(id);
    if (node) node.textContent = `Browse ${units}`;
  }
  const search = document.getElementById("search-q");
  if (search) search.placeholder = `which ${units.replace(" & ", " or ")} are about dates?`;
}

// A <select> of the campaigns (the default one first and chosen; options short enough for a
// phone: name and unit) with a line under it saying in full what the chosen one holds; null
// with fewer than two campaigns, where there is nothing to choose (the default is played).
export function campaignPicker(campaigns, defaultName, id) {
  if (campaigns.length < 2) return null;
  const ordered = [...campaigns].sort((a, b) => (b.name === defaultName) - (a.name === defaultName));
  const select = el("select", { id, name: "campaign" }, ...ordered.map((c) =>
    el("option", { value: c.name, text: `${c.name} — ${wordOf(c)}s${c.name === defaultName ? " (default)" : ""}` })));
  const about = el("p", { class: "small muted campaign-about", id: `${id}-about`, "aria-live": "polite" });
  const show = () => { const c = ordered.find((x) => x.name === select.value); about.textContent = c ? describe(c) : ""; };
  select.addEventListener("change", show);
  show();
  return el("div", { class: "campaign-pick" }, select, about);
}
