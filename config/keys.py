"""Every Redis key and pub/sub channel name, made by one function each.

Nothing else in the project spells a Redis key. Keys share the prefix ``nq:``
so one Redis can be shared with other applications and wiped selectively. A room's keys
carry its id as a hash tag (``nq:room:{R}:...``) so that they live on one Redis Cluster shard.
"""

from __future__ import annotations

PREFIX = "nq"


def _key(*parts: object) -> str:
    return ":".join([PREFIX, *(str(p) for p in parts)])


def _room(room_id: str, *parts: object) -> str:
    """A key of one room. ``{room_id}`` is a Redis Cluster hash tag: every key (and the shard
    channel) of a room hashes to one slot, so a script may touch several of them at once and a
    room's events are published on the shard that holds its log (docs/SCALING.md)."""
    return _key("room", "{" + room_id + "}", *parts)


# -- rooms ------------------------------------------------------------------
def room_state(room_id: str) -> str:
    """Hash: the room's serialised state and current version."""
    return _room(room_id, "state")


def room_events(room_id: str) -> str:
    """Stream: the room's versioned event log (trimmed to a short history)."""
    return _room(room_id, "events")


def room_version(room_id: str) -> str:
    """Counter: the version of the room's latest event."""
    return _room(room_id, "v")


def room_channel(room_id: str) -> str:
    """Pub/sub channel: events of one room, for every web process."""
    return _room(room_id, "ch")


def room_members(room_id: str) -> str:
    """Hash: player id -> display name, for the room's current members (server/live/room_members.py)."""
    return _room(room_id, "members")


def room_names(room_id: str) -> str:
    """Hash: casefolded shown name -> the player id that holds it in this room (two players
    called "alice" show as "alice" and "alice (2)": server/live/room_members.py ``distinct``)."""
    return _room(room_id, "names")


def room_member_changes(room_id: str) -> str:
    """Set: ids of players who joined or left the room since its last ``members`` event (the
    next flush announces them together: server/live/room_members.py)."""
    return _room(room_id, "member-changes")


def room_conns(room_id: str) -> str:
    """Hash: player id -> open connections in the room (a member may hold several tabs)."""
    return _room(room_id, "conns")


def room_lock(room_id: str) -> str:
    return _room(room_id, "lock")


def room_crowd_claim(room_id: str) -> str:
    """String with a TTL of one interval: some web process just pushed the room's crowd count."""
    return _room(room_id, "crowd")


def player_earning(player_id: int | str) -> str:
    """String with TTL: the room whose round a player earns points in (server/live/earning.py)."""
    return _key("player", player_id, "earning")


def room_process_members(room_id: str, process_id: str) -> str:
    """Hash: "room\x1fplayer" -> connections a web process holds in the room (in the room's slot,
    so the membership scripts stay on one Redis Cluster shard; server/live/member_leases.py)."""
    return _room(room_id, "proc", process_id, "members")


def process_rooms(process_id: str) -> str:
    """Set: the rooms in which a web process has held members (where its sweep looks)."""
    return _key("proc", process_id, "rooms")


def process_lease(process_id: str) -> str:
    """String with TTL: the web process is alive; renewed every third of its TTL."""
    return _key("proc", process_id, "lease")


def processes() -> str:
    """Set: ids of web processes that hold room members (alive or not yet swept)."""
    return _key("procs")


def process_sweep_claim(process_id: str) -> str:
    """String with TTL: some process is removing a dead process's members."""
    return _key("proc", process_id, "sweeping")


def late_points_told(room_id: str, claim: str) -> str:
    """String with TTL: the room heard of a late award (workers/scoring.py), exactly once."""
    return _room(room_id, "told", "points", claim)


def rooms_index() -> str:
    """Sorted set: open room ids by last activity."""
    return _key("rooms")


def room_code(code: str) -> str:
    """String: short join code -> room id."""
    return _key("roomcode", code.upper())


# -- streamer rooms (issue 7) -----------------------------------------------------
def streamer_room(room_id: str) -> str:
    """String: the streamer room's settings, moderators, bans and approval queue (JSON)."""
    return _room(room_id, "streamer")


def streamer_rooms() -> str:
    """Sorted set: open streamer room ids by creation time."""
    return _key("streamer", "rooms")


def team_match(room_id: str) -> str:
    """String: a live team match's rules state (rooms.team_match JSON) beside its room."""
    return _room(room_id, "match")


def team_challenge(challenge_id: str) -> str:
    """String with TTL: a team challenge (rooms.challenges JSON) until it is answered and played."""
    return _key("challenge", challenge_id)


def team_challenges(team_id: int) -> str:
    """Sorted set with TTL: the challenge ids a team is in, by creation time (its team page)."""
    return _key("team", team_id, "challenges")


def team_scores_claim(room_id: str) -> str:
    """String with PX TTL: a process publishing the match's throttled ``team_scores`` now."""
    return _room(room_id, "match", "scores-claim")


def room_tally(room_id: str, round_no: int) -> str:
    """Hash: explanation id -> audience votes in one round (HINCRBY; read by the tally pusher)."""
    return _room(room_id, "tally", round_no)


def room_audience_voters(room_id: str, round_no: int) -> str:
    """Set: audience members who voted in one round (one vote each)."""
    return _room(room_id, "voters", round_no)


def room_audience_count(room_id: str) -> str:
    """Counter: audience connections of the room over every web process."""
    return _room(room_id, "audience")


def player_country_lock(player_id: int | str) -> str:
    """Lock: one country change of a player at a time, its SQL write and its boards' move
    together (store/competition/country_move.py), whichever tab or process sends it."""
    return _key("player", player_id, "country-lock")


def player_room(player_id: int | str) -> str:
    """String with TTL: the room a player is in, so a reconnect with ``since`` rejoins it."""
    return _key("player", player_id, "room")


def player_channel(player_id: int | str) -> str:
    """Pub/sub channel: events addressed to one player wherever connected."""
    return _key("player", player_id, "ch")


# -- jobs -------------------------------------------------------------------
def job_progress_channel(job_id: str) -> str:
    """Pub/sub channel: progress events of one long job (campaign mining)."""
    return _key("job", job_id, "progress")


def campaign_progress(name: str) -> str:
    """String with TTL: the latest mining progress event of a campaign build (the lobby banner)."""
    return _key("campaign", name, "progress")


def scoring_guard(explanation_id: int, simulator: str, version: str) -> str:
    """String with TTL: set while an explanation is being scored (no double work)."""
    return _key("scoring", explanation_id, simulator, version)


def score_told(room_id: str, explanation_id: int, simulator: str, version: str, records_version: int) -> str:
    """String with TTL: this room has been sent the ``score`` event of this score (exactly once)."""
    return _room(room_id, "told", explanation_id, simulator, version, records_version)


def scoring_ring() -> str:
    """List: the scoring lanes that hold requests, served round-robin (workers/scoring_lanes.py)."""
    return _key("scoring", "ring")


def scoring_lane(lane: str) -> str:
    """List: one lane's queued scoring request ids (a lane is a player, or a room)."""
    return _key("scoring", "lane", lane)


def scoring_warmed(neuron_id: int) -> str:
    """String with TTL: the interactive worker was asked to prepare this neuron lately."""
    return _key("scoring", "warmed", neuron_id)


def seeding_pending() -> str:
    """Set: neuron ids whose machine explanations are being written; rooms do not serve them yet."""
    return _key("seeding", "pending")


def scoring_request(request_id: str) -> str:
    """String with TTL: one queued scoring request; whoever deletes it answers it."""
    return _key("scoring", "request", request_id)


def test_text_pending(campaign: str) -> str:
    """List: advanced-mode requests of one campaign waiting for a worker (one job takes several)."""
    return _key("testtext", campaign, "pending")


def rescore_pending(neuron_id: int) -> str:
    """String with TTL: a rescore job for this neuron is queued (the sweep does not queue another)."""
    return _key("scoring", "rescore", neuron_id)


def rescore_sweep_lock() -> str:
    """String with TTL: a rescoring sweep is queued or running."""
    return _key("scoring", "sweep")


def campaign_build_lock(campaign: str) -> str:
    return _key("campaign", campaign, "building")


# -- leaderboards and quests --------------------------------------------------
def leaderboard(board: str, period: str = "all") -> str:
    """Sorted set: one board for one period (``all`` or e.g. ``d:2026-11-21``)."""
    return _key("lb", board, period)


def leaderboard_members(board: str, period: str = "all") -> str:
    """Hash: member id -> its entry in ``leaderboard(board, period)`` (the entry carries the tie-break)."""
    return _key("lb", board, period, "members")


def leaderboard_pattern() -> str:
    """SCAN pattern matching every leaderboard key (boards, their member hashes, markers)."""
    return _key("lb", "*")


def leaderboards_built() -> str:
    """String: set once every board has been rebuilt from SQL; its absence means "Redis was wiped"."""
    return _key("lb", "built")


def leaderboards_rebuild_lock() -> str:
    """Lock: one process at a time rebuilds the boards from SQL (outside ``lb:*``, which a rebuild
    clears)."""
    return _key("lbrebuild", "lock")


def redis_epoch() -> str:
    """String: a random id written once into an empty Redis; a web process that sees it change
    (or vanish) knows Redis lost its data (FLUSHALL, restart without persistence)."""
    return _key("epoch")


def rate_limit(scope: str, ident: str) -> str:
    return _key("rl", scope, ident)


# -- processes ----------------------------------------------------------------
def scheduler_lease() -> str:
    """String with TTL: which scheduler process currently acts."""
    return _key("scheduler", "lease")


def scheduler_heartbeat() -> str:
    return _key("scheduler", "heartbeat")


def limiter_prefix() -> str:
    """Prefix of the keys the ``limits`` package keeps for failed-attempt limits (server/api/attempts.py)."""
    return _key("limits")
