// The daily as Wordle plays it: one neuron a day, played once. A player who wrote an explanation
// in today's daily room is not served its neuron again: when the room starts its next round
// (the same neuron, for players arriving later), this player goes back to the lobby, whose daily
// card shows the result, rank so far, streak and the share card. Quest credit arriving later
// (the private `quest` event) is announced as it comes.
import { toast } from "./dom.js";

let playedRoom = null;

const isDaily = (room) => /^daily-/.test(room || "");

export function dailyEvent(e, state, leave) {
  if (e.type === "explanation" && isDaily(state.room) && state.me && e.explanation && e.explanation.player_id === state.me.id) {
    playedRoom = state.room;
  }
  if (e.type === "quest" && e.quest && e.quest.kind === "daily") {
    const streak = e.streak ? ` · 🔥 ${e.streak.current} day streak` : "";
    toast(`Daily: ${e.points}/${e.max_points} points${streak}`, "good");
  }
  // Quest credit arrives privately, not as a room `points` event: the header's total follows it.
  if (e.type === "quest" && state.me && e.credited) state.me.points = (state.me.points || 0) + e.credited;
  if (e.type === "puzzle" && isDaily(state.room) && playedRoom === state.room) {
    playedRoom = null;
    leave();
    toast("You played today's daily: your result is on the card. A new one opens at midnight UTC.", "good");
  }
}
