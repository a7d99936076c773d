// The unit page — a neuron's, or a feature's (a latent of a sparse autoencoder): everything
// comes from /api/v1; text from players is only ever set as textContent (never innerHTML), so
// an explanation cannot inject markup. Its title names the unit (store/units.py unit_label).
import { drawHistogram, el, fmt, setChildren } from "./dom.js";
import { API, getJSON, searchWithFallback, showError } from "./reference.js";
import { applyBrowseWords } from "./campaigns.js";
import { cutBefore, shown } from "./tokens.js";

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function neuronLink(ref) {
  const href = `/neurons/${encodeURIComponent(ref.campaign)}/${ref.index}`;
  const what = ref.unit === "latent" ? "feature " : "";
  return el("a", { href, text: `${ref.campaign} ${what}#${ref.index}` });
}

const capital = (word) => word.charAt(0).toUpperCase() + word.slice(1);

function renderRecord(record) {
  const line = el("div", { class: "record" });
  // The server's display text carries the spaces (engine/display_text.py); special tokens are empty.
  const display = shown(record.tokens, record.display);
  if (cutBefore(record.tokens, record.display, 0)) line.append(el("span", { class: "ellipsis cut-word", text: "…" }));
  display.forEach((token, i) => {
    if (token === "") return;
    line.append(el("span", {
      class: i === record.max_index ? "tok max" : "tok",
      style: `--shade:${record.shades[i] / 10}`,
      title: `activation ${fmt(record.activations[i], 3)}`,
      text: token,
    }));
  });
  return line;
}

function renderExplanation(e) {
  const best = e.best_score;
  const score = best ? `${fmt(best.score, 3)} (${best.simulator} ${best.version})` : "not scored yet";
  return el("li", {}, [
    el("span", { class: "score", text: best ? fmt(best.score, 3) : "–" }),
    el("span", { text: e.text }),
    el("div", {
      class: "meta",
      text: `by ${e.author || "machine"} · ${e.votes} vote${e.votes === 1 ? "" : "s"} · score ${score}`,
    }),
  ]);
}

function renderPage(page) {
  const n = page.neuron;
  const word = n.word || "neuron"; // "feature" for a latent
  document.title = `${n.label || `${capital(word)} ${n.index}`} — NeuronQuest`;
  document.getElementById("title").textContent = `${capital(word)} ${n.index}`;
  // Which unit this page shows, in full: "Feature 12 of SAE s on layer 3 of minilm-l6".
  document.getElementById("subtitle").textContent = `${n.label || `${n.model} · layer ${n.layer}`} · campaign ${n.campaign}`;
  // Back to the game: a room that serves this very unit (server/live/neuron_rooms.py).
  const play = document.getElementById("play-link");
  play.href = `/#/room/neuron-${n.id}`;
  play.textContent = `Play this ${word}`;
  // A unit a quest is playing is played in the quest's room only (its own room refuses it).
  play.hidden = Boolean(page.sealed);
  document.getElementById("related-h").textContent = `Related ${word}s`;
  document.getElementById("campaign-link").href = `/neurons/${encodeURIComponent(n.campaign)}`;
  document.getElementById("campaign-link").textContent = n.campaign;
  const stats = document.getElementById("stats");
  setChildren(stats);
  for (const [label, value] of [
    ["max activation", fmt(page.stats.max_activation, 3)],
    ["mean activation", fmt(page.stats.mean_activation, 3)],
    ["fires on", `${fmt(100 * page.stats.firing_frequency, 2)}% of tokens`],
    ["explanations", page.sealed ? "hidden while a quest plays it" : String(page.explanation_count)],
  ]) {
    stats.append(el("dt", { text: label }), el("dd", { text: value }));
  }
  drawHistogram(document.getElementById("histogram"), page.stats.histogram, { scale: "linear" });
  // A unit a quest is playing keeps its explanations to itself until the quest closes.
  const sealed = page.sealed
    ? [el("li", { class: "sealed-note", text: `A quest is playing this ${word}: its explanations show when it closes, ${when(page.sealed.until)}.` })]
    : [];
  // An empty list says so, and how to fill it (a researcher reading the page; a player).
  const none = !page.sealed && !page.explanations.length
    ? [el("li", { class: "empty-note", text: `No explanations yet: play this ${word} and write the first.` })]
    : [];
  setChildren(document.getElementById("explanations"), ...sealed, ...none, ...page.explanations.map(renderExplanation));
  setChildren(document.getElementById("top-records"), ...page.top_records.map(renderRecord));
  setChildren(document.getElementById("random-records"), ...page.random_records.map(renderRecord));
  setChildren(document.getElementById("related"),
    ...page.related.map((r) =>
      el("li", {}, [
        neuronLink({ campaign: n.campaign, index: r.index, unit: n.unit }),
        // Neurons by how their activations correlate; features by their decoder directions.
        r.measure === "decoder_cosine" ? ` decoder cosine ${fmt(r.correlation, 2)}` : ` correlation ${fmt(r.correlation, 2)}`,
      ]),
    ),
  );
  setChildren(document.getElementById("history"),
    ...(page.history.length || page.sealed ? [] : [el("li", { class: "empty-note", text: "Nothing written yet." })]),
    ...page.history.map((h) => el("li", { text: `${when(h.created_at)} — ${h.author || "machine"}: ${h.text}` })),
  );
  document.getElementById("neuron").hidden = false;
}

async function search(event) {
  event.preventDefault();
  const q = document.getElementById("search-q").value.trim();
  const mode = document.getElementById("search-mode").value;
  if (!q) return;
  const box = document.getElementById("search-results");
  try {
    const { page, used, note } = await searchWithFallback(q, mode);
    const items = page.items.map((hit) => {
      const text = used === "semantic" ? hit.explanation.text : hit.text;
      const value = used === "semantic" ? hit.similarity : hit.relevance;
      return el("li", {}, [neuronLink(hit.neuron), ` (${fmt(value, 2)}) `, el("q", { text })]);
    });
    setChildren(box, el("h2", { text: `Results for “${q}”` }), note ? el("p", { class: "meta", id: "search-note", text: note }) : "",
      items.length ? el("ol", {}, items) : "nothing found");
    box.hidden = false;
  } catch (err) {
    showError(err.message);
  }
}

async function main() {
  document.getElementById("search-form").addEventListener("submit", search);
  // /neurons/<campaign>/<index>, or a unit's stable address /units/<model>/<layer>/<source>/<index>.
  const byCampaign = location.pathname.match(/^\/neurons\/([^/]+)\/(\d+)\/?$/);
  const byIdentity = location.pathname.match(/^\/units\/([^/]+)\/(\d+)\/([^/]+)\/(\d+)\/?$/);
  let url = null;
  if (byCampaign) url = `${API}/campaigns/${byCampaign[1]}/neurons/${byCampaign[2]}`;
  if (byIdentity) url = `${API}/units/${byIdentity[1]}/${byIdentity[2]}/${byIdentity[3]}/${byIdentity[4]}`;
  if (!url) return;
  try {
    renderPage(await getJSON(url));
  } catch (err) {
    showError(err.message);
  }
}

main();
applyBrowseWords(); // the crumb back to the index names what it lists
