// How a score reads to a player: a fit out of 100 (the score is a correlation, -1..1, between
// the neuron's real activations and the ones the simulator predicts from the explanation),
// coloured by value (never green below zero) with one sentence on what it means.
import { el } from "./dom.js";
import { roomWord } from "./units.js";

// The sentences name the room's unit: a neuron, or a feature (client/js/units.js).
const BANDS = [
  [0.6, "great", (w) => `Predicts where the ${w} fires very well.`],
  [0.35, "good", (w) => `Catches much of where the ${w} fires.`],
  [0.15, "fair", () => "Partly right: some of the firing is explained."],
  [0, "weak", () => "Barely better than a guess."],
  [-Infinity, "off", (w) => `Points away from where the ${w} fires.`],
];

export function fit(score) {
  if (score === null || score === undefined || Number.isNaN(Number(score))) {
    return { value: null, text: "…", band: "none", sentence: "Still being scored." };
  }
  const value = Math.round(100 * Math.max(-1, Math.min(1, Number(score))));
  const [, band, sentence] = BANDS.find(([floor]) => Number(score) >= floor);
  return { value, text: String(value), band, sentence: sentence(roomWord()) };
}

// A compact badge: "fit 57 /100"; the sentence is its title (and aria-label).
export function fitBadge(score, { big = false } = {}) {
  const f = fit(score);
  return el("span", { class: `fit fit-${f.band}${big ? " big" : ""}`, title: f.sentence, "aria-label": f.value === null ? "not scored yet" : `fit ${f.value} out of 100: ${f.sentence}` },
    el("span", { class: "fit-label", text: "fit" }), el("strong", { class: "fit-value", text: f.text }), el("span", { class: "fit-of", text: "/100" }));
}

// Why a player got points, in words.
export const REASONS = {
  beat_best: () => "beat the best earlier explanation",
  first_explanation: (w) => `first explanation of this ${w}`,
  top_vote: () => "voted for the winner",
  quest: () => "quest",
};
export const reasonText = (reason) => (REASONS[reason] ? REASONS[reason](roomWord()) : String(reason).replaceAll("_", " "));
