// The reference's index pages: /neurons lists the campaigns, /neurons/<campaign> its neurons
// (keyset pages from /api/v1), both with the search box. Search by meaning needs embeddings,
// which a fresh install computes in the background: until they exist the page falls back to
// word search and says so, so search works from the first minute.
import { el, setChildren } from "./dom.js";
import { API, getJSON, searchWithFallback, showError } from "./reference.js";
import { applyBrowseWords, readyCampaigns, unitsWord } from "./campaigns.js";

const $ = (id) => document.getElementById(id);

// A campaign's units: the layer's neurons, or the features (latents) of an SAE or a transcoder on it.
const SOURCE_WORD = { sae: "SAE", transcoder: "transcoder" };
const unitsOf = (c) => (c.unit === "latent" ? `features of ${SOURCE_WORD[c.source_kind] || "SAE"} ${c.source}` : "neurons");
const neuronHref = (campaign, index) => `/neurons/${encodeURIComponent(campaign)}/${index}`;

async function campaigns() {
  // Every campaign, of neurons or of features: the page says which it lists.
  const units = unitsWord(await readyCampaigns());
  $("index-title").textContent = `Browse ${units}`;
  document.title = `Browse ${units} — NeuronQuest`;
  $("index-intro").textContent = `Each campaign is one layer of one model, mined from a corpus. Open one to see its ${units} and what players explained them as.`;
  const page = await getJSON(`${API}/campaigns?limit=100`);
  setChildren($("index"), ...page.items.map((c) => el("li", {},
    el("a", { href: `/neurons/${encodeURIComponent(c.name)}`, text: c.name }),
    el("span", { class: "meta", text: ` · ${c.model}, layer ${c.layer} · ${unitsOf(c)} ${c.neuron_start}–${c.neuron_end - 1} · ${c.status}` }))));
  if (!page.items.length) setChildren($("index"), el("li", { class: "meta", text: "No campaign yet: the first start is still mining one." }));
}

async function neurons(name, cursor = null) {
  $("index-title").textContent = name;
  const c = await getJSON(`${API}/campaigns/${encodeURIComponent(name)}`);
  const word = c.unit === "latent" ? "feature" : "neuron";
  $("index-intro").textContent = `${c.model}, layer ${c.layer} · ${unitsOf(c)} · ${c.status}. Pick a ${word} to see its clues, explanations and related ${word}s.`;
  const page = await getJSON(`${API}/campaigns/${encodeURIComponent(name)}/neurons?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
  const rows = page.items.map((n) => el("li", {},
    el("a", { href: neuronHref(n.campaign, n.index), text: `${n.word || "neuron"} ${n.index}` }),
    el("span", { class: "meta", text: ` · max ${n.max_activation === null ? "–" : Number(n.max_activation).toFixed(2)}` })));
  if (cursor) $("index").append(...rows); else setChildren($("index"), ...rows);
  const more = $("more");
  more.hidden = !page.next_cursor;
  more.onclick = () => neurons(name, page.next_cursor).catch((err) => showError(err.message));
}

async function search(q, mode) {
  const box = $("search-results");
  const campaign = decodeURIComponent(location.pathname.split("/")[2] || "");
  const { page, used, note } = await searchWithFallback(q, mode, campaign ? { campaign } : {});
  const items = page.items.map((hit) => {
    const text = used === "semantic" ? hit.explanation.text : hit.text;
    return el("li", {}, el("a", { href: neuronHref(hit.neuron.campaign, hit.neuron.index), text: `${hit.neuron.campaign} #${hit.neuron.index}` }), " ", el("q", { text }));
  });
  setChildren(box, el("h2", { text: `Results for “${q}”` }), note ? el("p", { class: "meta", id: "search-note", text: note }) : "",
    items.length ? el("ol", {}, items) : el("p", { text: "Nothing found." }));
  box.hidden = false;
}

$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("search-q").value.trim();
  if (!q) return;
  showError("");
  search(q, $("search-mode").value).catch((err) => showError(err.message));
});

const name = decodeURIComponent(location.pathname.split("/")[2] || "");
(name ? neurons(name) : campaigns()).catch((err) => showError(err.message));
applyBrowseWords(); // the crumb and search box name what the campaigns hold
