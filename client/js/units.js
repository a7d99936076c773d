// What the puzzle's unit is called: a "neuron", or a "feature" when the campaign's puzzles are
// the latents of a sparse autoencoder (store/units.py). The room's words follow the puzzle's
// unit (its "unit" object); before any puzzle, the default campaign's (GET /api/status).
let fallback = "neuron";
let current = null; // the word of the room's puzzle; null before one
let roomDefault = null; // a room made to play a chosen campaign: its word before any puzzle

// The word the room's copy uses now (fit sentences, result and reveal screens read it).
export const roomWord = () => current || fallback;

export function setDefaultWord(word) { if (word === "feature" || word === "neuron") fallback = word; }

// The default campaign's word: the home page's and the tutorial's.
export const defaultWord = () => fallback;

// The room's own campaign word (its snapshot's "word"), null for a room of the default campaign.
export function setRoomWord(word) { roomDefault = word === "feature" || word === "neuron" ? word : null; }

export function unitWord(neuron) { return neuron?.unit?.word || (neuron ? "neuron" : roomDefault || fallback); }

export const capital = (word) => word.charAt(0).toUpperCase() + word.slice(1);

// The unit's page: its stable address by identity when known, else by campaign and index.
export function unitHref(neuron) {
  const u = neuron?.unit;
  if (u && u.model && u.source && u.layer !== undefined) {
    return `/units/${encodeURIComponent(u.model)}/${u.layer}/${encodeURIComponent(u.source)}/${u.index}`;
  }
  return `/neurons/${encodeURIComponent(neuron.campaign)}/${neuron.index}`;
}

// The home page and the nav in the default campaign's word; ``browse``: what the reference
// lists ("neurons", "features" or "neurons & features": every campaign, not just the default).
export function applyHomeWords(word, browse) {
  const set = (id, text) => { const node = document.getElementById(id); if (node) node.textContent = text; };
  set("hero-h", `Explain a ${word}.`);
  set("hero-intro", word === "feature"
    ? "Each round shows where one feature of a language model fires: a direction that a sparse autoencoder found in one of its layers. Write what it does in one sentence; a simulator scores how well your words predict it."
    : "Each round shows where one neuron of a language model fires. Write what it does in one sentence; a simulator scores how well your words predict it.");
  set("nav-browse", `Browse ${browse || `${word}s`}`);
}

// The room's fixed copy, in the unit's word (elements of index.html's room view).
export function applyRoomWords(word) {
  current = word;
  const set = (id, apply) => { const node = document.getElementById(id); if (node) apply(node); };
  set("stats-h", (n) => { n.textContent = capital(word); });
  set("neuron-link", (n) => { n.textContent = `Open the ${word}'s page`; });
  set("explanation-label", (n) => { n.textContent = `This ${word} fires on…`; });
  set("test-text-label", (n) => { n.textContent = `Text to test on this ${word}`; });
  set("test-text", (n) => { n.placeholder = `Type any text and see where this ${word} fires`; });
}
