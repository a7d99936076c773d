// Onboarding by playing: one easy built-in neuron (it fires on animals). The player finds the
// brightest token, writes a guess, and sees a score reveal made by a tiny word-matching
// simulator in the page, so the loop "clues -> guess -> simulated vs true" is learnt in a
// minute. Done-ness is remembered in localStorage; the tutorial can be replayed any time.
// Its words are the game's: "feature" when the default campaign serves an SAE's features.
import { $, countUp, el, fmt, setChildren } from "./dom.js";
import { snippet } from "./tokens.js";
import { compareRows } from "./reveal.js";
import { fit } from "./fit.js";
import { statusKnown } from "./firststart.js";
import { defaultWord } from "./units.js";

const DONE_KEY = "nq.onboarded";
const ANIMALS = ["cat", "cats", "dog", "dogs", "horse", "horses", "bird", "birds", "fox", "owl", "cow", "cows", "sheep", "rabbit"];
const CATEGORY = ["animal", "animals", "pet", "pets", "creature", "creatures", "mammal", "mammals", "bird", "birds"];

const A = (w) => (ANIMALS.includes(w.trim().toLowerCase()) ? 9.0 + (w.length % 3) * 0.3 : 0);
const record = (text) => {
  const tokens = text.match(/\s?[^\s]+/g);
  return { tokens, activations: tokens.map((t) => Number(A(t.replace(/[.,!?]/g, "")).toFixed(1))) };
};
export const DEMO = {
  max: 9.6,
  clues: [
    record("My cat sleeps on the warm windowsill."),
    record("The farmer fed the horses and the cows."),
    record("A small dog barked at the mailman."),
  ],
  // Scored like a real round: top snippets plus quiet ones, so "fires on everything" loses.
  quiet: [record("The train left the station at noon."), record("She paid the bill and went home.")],
};

// Words that say nothing about a neuron; the tutorial's simulator ignores them.
const FILLER = new Set(["the", "a", "an", "and", "or", "of", "on", "in", "at", "to", "like", "names", "name", "word", "words", "fires", "it", "is", "such", "as"]);

function words(text) {
  return (text.toLowerCase().match(/[a-z]+/g) || []).filter((w) => !FILLER.has(w));
}

// The tutorial's simulator: a token is predicted hot when the guess names it or its category.
export function simulate(guess, tokens) {
  const said = new Set(words(guess));
  const category = CATEGORY.some((w) => said.has(w));
  return tokens.map((t) => {
    const w = t.trim().toLowerCase().replace(/[^a-z]/g, "");
    if (said.has(w)) return 10;
    return category && ANIMALS.includes(w) ? 8 : 0;
  });
}

export function pearson(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return sxx && syy ? sxy / Math.sqrt(sxx * syy) : 0;
}

export const onboarded = () => localStorage.getItem(DONE_KEY) === "1";

// An invite link (a room, a team) opened before the tutorial: kept through it, offered as a
// skip, and where "Play for real" goes. Session storage: it belongs to this tab's visit.
const DEST_KEY = "nq.afterTour";
const INVITE = /^#\/(room\/[^/]+|teams\/join\/[^/]+)$/;

export function keepDestination(hash) {
  if (INVITE.test(hash || "")) sessionStorage.setItem(DEST_KEY, hash);
}

export function takeDestination() {
  const hash = sessionStorage.getItem(DEST_KEY);
  sessionStorage.removeItem(DEST_KEY);
  return hash;
}

function inviteBanner() {
  const hash = sessionStorage.getItem(DEST_KEY);
  const old = $("tour-invite");
  if (old) old.remove();
  if (!hash) return;
  const [, kind, what, code] = hash.split("/");
  const where = kind === "room" ? `room ${decodeURIComponent(what)}` : `a team (invite ${decodeURIComponent(code)})`;
  const banner = el("div", { id: "tour-invite", class: "card notice invite-banner", role: "status" },
    el("p", {}, el("strong", { text: `You were invited to ${where}.` }),
      " This one-minute tutorial takes you there when you finish, or you can go now."),
    el("button", { type: "button", class: "primary", id: "tour-skip", text: kind === "room" ? "Skip the tutorial and join" : "Skip the tutorial and join the team",
      onclick: () => { localStorage.setItem("nq.skipTour", "1"); banner.remove(); location.hash = takeDestination() || "#/play"; } }));
  $("tour").before(banner);
}

function step(n, title, ...body) {
  return el("section", { class: "tour-step card", "data-step": String(n), "aria-labelledby": `tour-h${n}` },
    el("p", { class: "eyebrow", text: `Step ${n} of 3` }), el("h2", { id: `tour-h${n}`, tabindex: "-1", text: title }), ...body);
}

export function startOnboarding(onFinish) {
  const root = $("tour");
  inviteBanner();
  const show = (node) => {
    setChildren(root, node);
    node.querySelector("h2")?.focus();
  };

  const findMax = () => {
    const clues = DEMO.clues.map((c, i) => snippet(c.tokens, c.activations, DEMO.max, { label: `clue ${i + 1}`, windowed: false }));
    const feedback = el("p", { class: "feedback", role: "status" });
    const next = el("button", { class: "primary", type: "button", hidden: true, text: "Next: guess", onclick: guess });
    const w = defaultWord();
    const what = w === "feature" ? " (A feature is a direction that a sparse autoencoder found in one layer of the model: it fires on text, and you explain it the same way.)" : "";
    const node = step(1, `Find where the ${w} fires`,
      el("p", { text: `These are clues: snippets on which one ${w} fires hardest.${what} The brighter a token, the stronger it fires. Click (or focus and press Enter on) the brightest token.` }),
      el("div", { class: "clues" }, clues), feedback, next);
    node.addEventListener("click", (ev) => pick(ev.target));
    node.addEventListener("keydown", (ev) => {
      if ((ev.key === "Enter" || ev.key === " ") && ev.target.classList?.contains("tok")) {
        ev.preventDefault(); // else the same key press would also activate the "Next" button
        pick(ev.target);
      }
    });
    function pick(target) {
      if (!target.classList?.contains("tok")) return;
      if (target.classList.contains("max")) {
        feedback.textContent = `Yes! “${target.textContent.trim()}” fires at ${target.dataset.act}. Look at the other bright tokens: what do they share?`;
        feedback.className = "feedback good";
        node.classList.add("found");
        next.hidden = false;
        next.focus();
      } else {
        feedback.textContent = `“${target.textContent.trim()}” is at ${target.dataset.act}: look for a brighter one.`;
        feedback.className = "feedback";
      }
    }
    show(node);
  };

  function guess() {
    const input = el("input", { id: "tour-guess", maxlength: "280", autocomplete: "off", placeholder: "e.g. names of animals", "aria-label": "your explanation" });
    const form = el("form", { class: "explain" }, input, el("button", { class: "primary", text: "Score my guess" }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (input.value.trim()) reveal(input.value.trim());
    });
    show(step(2, "Explain it in a few words",
      el("p", { text: `Write what the ${defaultWord()} fires on. A simulator will read your sentence and predict every token's activation: the better it predicts, the higher you score.` }),
      el("div", { class: "clues" }, DEMO.clues.map((c, i) => snippet(c.tokens, c.activations, DEMO.max, { label: `clue ${i + 1}` }))),
      form));
    input.focus();
  }

  function reveal(text) {
    const records = [...DEMO.clues, ...DEMO.quiet];
    const predictions = records.map((r) => simulate(text, r.tokens));
    const score = pearson(records.flatMap((r) => r.activations), predictions.flat());
    const f = fit(score);
    const big = el("strong", { class: `big-score fit-${f.band}`, text: "0" });
    const w = defaultWord();
    const verdict = score > 0.7 ? `Excellent — the simulator predicts this ${w} well from your words.`
      : score > 0.3 ? "Partly right: compare the rows where the simulated bar misses the true one."
      : `The simulator could not predict the ${w} from that. See where the bars differ, then try again.`;
    const rows = records.map((r, i) => compareRows(r.tokens, r.activations, DEMO.max, predictions[i], i < DEMO.clues.length ? "top" : "random", pearson(r.activations, predictions[i])));
    const finish = () => { localStorage.setItem(DONE_KEY, "1"); onFinish(); };
    show(step(3, "Your score",
      el("p", { class: "score-line" }, "Fit ", big, el("span", { class: "of", text: "/100" }),
        el("span", { class: "muted", text: ` — how well a simulator that reads only your words predicts where the ${w} fires` })),
      el("p", { class: "verdict", text: verdict }),
      el("div", { class: "reveal-records" }, rows),
      el("div", { class: "row" },
        el("button", { class: "primary", type: "button", id: "tour-done", text: "Play for real", onclick: finish }),
        el("button", { type: "button", text: "Try another guess", onclick: guess }))));
    countUp(big, f.value, 0);
    big.dataset.score = fmt(score, 2);
  }

  statusKnown.then(findMax); // in the default campaign's word, once the server said it
}
