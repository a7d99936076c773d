"""Command sequences against the puzzle room's rules (rooms/puzzle_room.py), no I/O.

A hypothesis state machine plays joins, leaves, submits, votes, worker scores and the clock in
any order, the way the room service calls the rules (a vote is stored only when check_vote
passes and the database's unique (voter, explanation) row is new). After every step:
one vote per player per explanation, never for one's own, only for candidates of the puzzle;
scores only for candidates and only with values a worker sent; and at every round end the
points handed out are exactly what rooms.points computes from that round.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from rooms.points import award_round
from rooms.puzzle_room import Phase, Puzzle, PuzzleRoom, RoomError, RoomState, Timing

PLAYERS = st.integers(min_value=1, max_value=5)
TIMING = Timing(lobby_s=1.0, round_s=10.0, reveal_s=5.0, reveal_min_s=1.0)


def _puzzle(neuron_id: int) -> Puzzle:
    shown = [{"id": 1000 + neuron_id, "text": "older", "player_id": 99, "player_name": "Old", "score": 0.3}]
    return Puzzle(neuron_id, "c", neuron_id, 2.0, clues=[], shown=shown, prior_best=0.3, prior_explained=True)


class PuzzleRoomMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.room = PuzzleRoom(RoomState(room_id="fuzz"), TIMING)
        self.now = 0.0
        self.next_id = 1
        self.stored_votes: set[tuple[int, int]] = set()  # the database's unique (voter, explanation)
        self.worker_scores: dict[int, set[float]] = {}
        self.points: dict[int, int] = {}
        self.round_votes: list[tuple[int, int]] = []

    # -- moves the service makes on behalf of clients ------------------------------------------
    @rule(player=PLAYERS)
    def join(self, player: int) -> None:
        self.room.join(player, f"P{player}", self.now)

    @rule(player=PLAYERS)
    def leave(self, player: int) -> None:
        self.room.leave(player, self.now)

    @rule(player=PLAYERS)
    def submit(self, player: int) -> None:
        try:
            self.room.check_submit(player)
        except RoomError as exc:
            assert exc.code in {"not_in_room", "wrong_phase", "already_submitted"}
            return
        eid, self.next_id = self.next_id, self.next_id + 1
        self.room.add_explanation(
            {"id": eid, "text": "t", "player_id": player, "player_name": "x", "score": None}
        )

    @rule(player=PLAYERS, pick=st.integers(min_value=0, max_value=12))
    def vote(self, player: int, pick: int) -> None:
        candidates = sorted(self.room._authors()) or [pick]
        eid = candidates[pick % len(candidates)] if pick < 10 else 5000 + pick  # some unknown ids
        try:
            self.room.check_vote(player, eid)
        except RoomError as exc:
            assert exc.code in {"not_in_room", "wrong_phase", "not_found", "own_vote", "double_vote"}
            if exc.code == "double_vote":
                assert (player, eid) in self.room.state.votes  # the player's current vote
            return
        if (player, eid) in self.stored_votes:
            return  # the unique row refuses it: double_vote
        for voter, old in self.room.state.votes:
            if voter == player:
                self.stored_votes.discard((voter, old))  # one vote per round: the row moves
        self.stored_votes.add((player, eid))
        self.room.add_vote(player, eid)

    # -- what only workers and the clock do --------------------------------------------------
    @rule(pick=st.integers(min_value=0, max_value=20), score=st.floats(min_value=-1.0, max_value=1.0))
    def worker_score(self, pick: int, score: float) -> None:
        if self.room.record_score(pick, score):
            self.worker_scores.setdefault(pick, set()).add(score)

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.0, 5.0, 11.0]), neuron=st.integers(min_value=1, max_value=3))
    def clock(self, seconds: float, neuron: int) -> None:
        self.now += seconds
        if self.room.wants_puzzle(self.now):
            self.room.start_round(_puzzle(neuron), self.now)
            self.stored_votes = {
                (v, e) for v, e in self.stored_votes if e >= 1000
            }  # old explanations keep theirs
            return
        before = list(self.room.state.votes)
        events, outcome = self.room.tick(self.now)
        if outcome is not None:
            assert outcome.votes == before
            for award in award_round(outcome):
                assert award.amount > 0
                self.points[award.player_id] = self.points.get(award.player_id, 0) + award.amount
                if award.reason == "top_vote":
                    assert (award.player_id, award.explanation_id) in set(outcome.votes)
                    assert outcome.authors.get(award.explanation_id) != award.player_id
                else:
                    assert outcome.written[award.explanation_id or 0] == award.player_id
            assert events and events[0]["type"] == "round_end"

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def one_vote_per_player_per_explanation(self) -> None:
        votes = self.room.state.votes
        assert len(votes) == len(set(votes))
        assert len(votes) == len({voter for voter, _ in votes}), "one vote per player per round"

    @invariant()
    def nobody_votes_for_their_own_or_for_a_stranger(self) -> None:
        authors = self.room._authors()
        for voter, eid in self.room.state.votes:
            assert eid in authors
            assert authors[eid] != voter

    @invariant()
    def scores_only_from_workers_for_candidates(self) -> None:
        s = self.room.state
        shown = {int(e["id"]): e["score"] for e in (s.puzzle.shown if s.puzzle else [])}
        for eid, score in s.scores.items():
            assert eid in self.room._authors()
            assert score in self.worker_scores.get(eid, set()) or shown.get(eid) == score

    @invariant()
    def phases_and_members_agree(self) -> None:
        s = self.room.state
        assert set(s.members) == set(s.conns)
        assert all(n > 0 for n in s.conns.values())
        if s.phase is not Phase.LOBBY:
            assert s.puzzle is not None
        assert RoomState.from_json(s.to_json()) == s  # what Redis stores comes back the same


TestPuzzleRoomRules = PuzzleRoomMachine.TestCase
