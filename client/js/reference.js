// What the reference pages (neuron.js: one neuron; neurons.js: the index pages) share: reading
// the public API and the search that falls back to words while embeddings are being computed.
// The public API is read without the session token: it takes a Bearer header as an API key.
export const API = "/api/v1";

export async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

// An empty message hides the box (a later success clears an earlier failure).
export function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

// Search by meaning finds nothing until embeddings exist (a fresh install computes them in the
// background): then the same query by words, and a note that says so. { page, used, note }.
export async function searchWithFallback(q, mode, extra = {}) {
  const params = (m) => new URLSearchParams({ q, mode: m, limit: "20", ...extra });
  const page = await getJSON(`${API}/search?${params(mode)}`);
  if (mode !== "semantic" || page.items.length) return { page, used: mode, note: "" };
  return {
    page: await getJSON(`${API}/search?${params("text")}`),
    used: "text",
    note: "No match by meaning yet (new explanations are still being indexed): showing matches by words.",
  };
}
