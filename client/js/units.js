// What the puzzle's unit is called: a "neuron", or a "feature" when the campaign's puzzles are
// the latents of a sparse autoencoder (store/units.py). The room's words follow the puzzle's
// unit (its "unit" object); before any puzzle, the default campaign's (GET /api/status).
let fallback = "neuron";
let current = null; // the word of the room's puzzle; null before one

// The word the room's copy uses now (fit sentences, result and reveal screens read it).
export const roomWord = () => current || fallback;

export function setDefaultWord(word) { if (word === "feature" || word === "neuron") fallback = word; }

export function unitWord(neuron) { return neuron?.unit?.word || (neuron ? "neuron" : fallback); }

export const capital = (word) => word.charAt(0).toUpperCase() + word.slice(1);

// The unit's page: its stable address by identity when known, else by campaign and index.
export function unitHref(neuron) {
  const u = neuron?.unit;
  if (u && u.model && u.source && u.layer !== undefined) {
    return `/units/${encodeURIComponent(u.model)}/${u.layer}/${encodeURIComponent(u.source)}/${u.index}`;
  }
  return `/neurons/${encodeURIComponent(neuron.campaign)}/${neuron.index}`;
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
