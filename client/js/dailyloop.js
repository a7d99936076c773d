// The daily as Wordle plays it: one neuron a day, played once. The server keeps each player to
// one attempt (server/live/quest_rooms.py): when today's room starts its next round (the same
// neuron, for players arriving later) a player who played gets `daily_played` and is out of the
// room, and entering it again is refused with the error `daily_played`. Either way this page
// goes back to the lobby, whose daily card shows the result, rank so far, streak and the share
// card. Quest credit arriving later (the private `quest` event) is announced as it comes.
import { toast } from "./dom.js";
import { PROTOCOL } from "./protocol.js";

const PLAYED = "You played today's daily: your result is on the card. A new one opens at midnight UTC.";

export function dailyEvent(e, state, toLobby) {
  if (e.type === "quest" && e.quest && e.quest.kind === "daily") {
    const streak = e.streak ? ` · 🔥 ${e.streak.current} day streak` : "";
    toast(`Daily: ${e.points}/${e.max_points} points${streak}`, "good");
  }
  // Quest credit arrives privately, not as a room `points` event: the header's total follows it.
  if (e.type === "quest" && state.me && e.credited) state.me.points = (state.me.points || 0) + e.credited;
  const refused = e.type === "error" && e.code === PROTOCOL.ERR_DAILY_PLAYED;
  if (e.type === "daily_played" || refused) {
    toLobby();
    toast(PLAYED, "good");
  }
}
