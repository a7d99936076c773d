// The audience's view of a streamer room: "You are watching" with the reason (the room was
// full, locked, or you chose to watch), votes still count, and no Submit box. The server sends
// the reason privately in `streamer` (`you: "audience"`, `why`); a player's view is unchanged.
import { $, el, setChildren } from "./dom.js";

const WHY = {
  full: (cap) => `The room was full (${cap} ${cap === 1 ? "player" : "players"}), so you joined the audience.`,
  locked: () => "The host locked the room, so you joined the audience.",
  asked: () => "You chose to join as audience.",
};

let watching = null; // { room, why, cap }

export function audienceEvent(e, state) {
  if (e.type === "streamer" && e.you === "audience") watching = { room: state.room, why: e.why, cap: e.player_cap, host: e.host_name };
  if (e.type === "room" && watching && e.room !== watching.room) watching = null;
  if ((e.type === "left" && !e.v) || e.type === "room_closed" || e.type === "kicked") watching = null;
}

export function drawAudience(state) {
  const on = Boolean(watching && watching.room === state.room);
  $("explain-form").hidden = on;
  let banner = $("audience-banner");
  if (!on) { if (banner) banner.remove(); return; }
  if (!banner) {
    banner = el("section", { id: "audience-banner", class: "card notice audience", role: "status" });
    $("team-match").before(banner); // at the top: on a phone the form is below every clue
  }
  const text = (WHY[watching.why] || WHY.full)(watching.cap);
  if (banner.dataset.why !== watching.why) {
    banner.dataset.why = watching.why;
    setChildren(banner, el("h2", { text: watching.host ? `You are watching ${watching.host}'s room` : "You are watching" }), el("p", { text: text }),
      el("p", { class: "muted small", text: "Vote for the explanation you think fits best: the audience's votes show on the stream. Only players write explanations." }));
  }
}

// "Join as audience" in the lobby: remembered for this tab until the room is joined.
export const WATCH_KEY = "nq.watchCode";
