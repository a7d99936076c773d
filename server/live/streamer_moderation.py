"""Moderation in streamer rooms: the word filter on explanations, the approval queue, removal.

A player's explanation is filtered first (mask or reject, the host's choice). With approval
on it is stored with status "pending" and shown only to the host and moderators (their
``host_state``); ``approve`` puts it in the room as any explanation (and sends it to scoring),
``reject`` marks it "removed". ``remove_explanation`` takes a visible one away: status
"removed", an ``explanation_removed`` event, and its votes no longer count.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from config import keys
from rooms.moderation import clean
from rooms.puzzle_room import Phase, RoomError
from server.live.streamer_service import StreamerService
from server.wire import protocol as p
from store.explanations import CopiedExplanation, create_explanation
from store.models import Explanation
from workers.scoring import enqueue_scoring


class Moderation:
    def __init__(self, streamer: StreamerService) -> None:
        self.streamer = streamer
        self.rooms = streamer.rooms
        self.db = streamer.rooms.db

    async def submit(self, room_id: str, player: dict[str, Any], text: str) -> int:
        text = " ".join(text.split())
        if not text:
            raise RoomError(p.ERR_BAD_FIELD, "an explanation needs some words")
        state = await self.streamer.require(room_id)
        text = await run_in_threadpool(clean, text, state.filter_mode, "explanation")
        player_id = int(player["id"])
        async with self.streamer.locked(room_id) as (room, state):
            puzzle = room.check_submit(player_id)
            round_no = room.state.round_no
            if any(
                item["explanation"]["player_id"] == player_id and item["round"] == round_no
                for item in state.pending.values()
            ):
                raise RoomError(p.ERR_ALREADY_SUBMITTED, "one explanation per player per round")
            await self.rooms.earning.claim(player_id, room_id, room.state.deadline, self.rooms.clock())
            status = "pending" if state.approval else "visible"
            round_key = room.state.round_key
            row = await run_in_threadpool(
                self._store, puzzle.neuron_id, player_id, text, room_id, status, round_key
            )
            if row is None:  # stored by an attempt whose process died before saving the room
                raise RoomError(p.ERR_ALREADY_SUBMITTED, "one explanation per player per round")
            explanation = {
                "id": row,
                "text": text,
                "player_id": player_id,
                "player_name": player["name"],
                "neuron_id": puzzle.neuron_id,
                "score": None,
            }
            if state.approval:
                state.pending[row] = {"explanation": explanation, "round": round_no}
            else:
                # Queued before anyone hears of it, as in puzzle rooms (room_service.submit): a
                # process killed after the event left the row unscored, and a client that acts on
                # the event (a test running the queue) found no job yet.
                await run_in_threadpool(enqueue_scoring, self.rooms.r_sync, self.rooms.settings, row, room_id)
                await self.rooms.emit(room_id, room.add_explanation(explanation))
        if state.approval:
            notice = {"type": "submitted", "explanation_id": row, "status": "pending"}
            await self.streamer.r.publish(keys.player_channel(player_id), orjson.dumps(notice))
            await self.streamer.announce(state, room_event=False)
        return row

    async def decide(self, moderator_id: int, room_id: str, explanation_id: int, approve: bool) -> None:
        late = False
        async with self.streamer.locked(room_id) as (room, state):
            state.require_moderator(moderator_id)
            item = state.pending.pop(explanation_id, None)
            if item is None:
                raise RoomError(p.ERR_NOT_FOUND, f"explanation {explanation_id} is not waiting for approval")
            explanation = item["explanation"]
            s = room.state
            same_round = s.phase is Phase.ROUND and s.round_no == item["round"]
            if approve and same_round:
                await run_in_threadpool(self._set_status, explanation_id, "visible")
                await self.rooms.emit(room_id, room.add_explanation(explanation))
            elif approve:  # its round is over: kept for the neuron's page, not shown to the room
                late = True
                await run_in_threadpool(self._set_status, explanation_id, "visible")
            else:
                await run_in_threadpool(self._set_status, explanation_id, "removed")
        if approve and not late:
            await run_in_threadpool(
                enqueue_scoring, self.rooms.r_sync, self.rooms.settings, explanation_id, room_id
            )
        if not approve:
            notice = {"type": "explanation_rejected", "explanation_id": explanation_id}
            await self.streamer.r.publish(keys.player_channel(explanation["player_id"]), orjson.dumps(notice))
        await self.streamer.announce(state, room_event=False)

    async def remove(self, moderator_id: int, room_id: str, explanation_id: int) -> None:
        async with self.streamer.locked(room_id) as (room, state):
            state.require_moderator(moderator_id)
            s = room.state
            if explanation_id not in s.written:
                raise RoomError(p.ERR_NOT_FOUND, f"explanation {explanation_id} is not in this round")
            del s.written[explanation_id]
            s.votes = [(voter, eid) for voter, eid in s.votes if eid != explanation_id]
            s.scores.pop(explanation_id, None)
            await run_in_threadpool(self._set_status, explanation_id, "removed")
            removed = {"type": "explanation_removed", "explanation_id": explanation_id}
            await self.rooms.emit(room_id, [removed])

    # -- database, run in threads ------------------------------------------------------------
    def _store(
        self, neuron_id: int, player_id: int, text: str, room_id: str, status: str, round_key: str
    ) -> int | None:
        """The row's id; None when the player already wrote one this round (unique in SQL)."""
        with self.db.session() as s:
            try:
                row = create_explanation(s, neuron_id, player_id, text, room_id, round_key, status)
            except CopiedExplanation:
                raise RoomError(p.ERR_COPIED, p.COPIED_MESSAGE) from None
            return int(row.id or 0) if row is not None else None

    def _set_status(self, explanation_id: int, status: str) -> None:
        with self.db.session() as s:
            row = s.get(Explanation, explanation_id)
            if row is not None:
                row.status = status
                s.add(row)
                s.commit()
