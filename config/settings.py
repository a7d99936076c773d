"""The one place that reads the environment.

Everything else receives a ``Settings`` instance (built once per process by
``get_settings``) and reads its attributes. Variables use the prefix ``NQ_``.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NQ_", extra="ignore")

    # Where the embedded SQLite file, the private Redis' AOF, model caches and
    # the generated secret live when nothing external is configured.
    data_dir: Path = Field(default=Path("data"))
    # Empty means "embedded": SQLite in data_dir / a private redis-server.
    database_url: str = ""
    redis_url: str = ""
    # Connections of a web process' async Redis pool; more requests than this wait their turn.
    redis_max_connections: int = 200
    # A node of a Redis Cluster (redis://host:port) that holds the rooms: state, event log,
    # members, lock, and their events on sharded pub/sub (SPUBLISH/SSUBSCRIBE, one shard per
    # room by its hash tag; docs/SCALING.md). Empty: rooms live on redis_url. Queues,
    # leaderboards and sessions stay on redis_url either way (RQ does not run on a cluster).
    rooms_redis_cluster_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Empty means "generate once and keep in data_dir/secret_key".
    secret_key: str = ""

    default_campaign: str = "minilm-l6-layer3"
    default_model: str = "minilm-l6"
    default_layer: int = 3
    # How many neurons the default campaign mines on a fresh data dir.
    default_neurons: int = 256
    # Tokens of the default corpus the default campaign mines (0 = all of it).
    default_max_tokens: int = 200_000

    # Which simulator scores explanations: "embedding", "trained" (MiniLM + a head trained on
    # synthetic neurons, docs/SCORING.md), "llm" (local causal LM, the method's
    # all-at-once prompt), "llm-pointing" (local causal LM, calibrated pointing: the one that
    # works with a small model, docs/SCORING.md) or "openai" (any OpenAI-compatible endpoint).
    # "embedding" stays the default: the shipped "trained" (trained-5:ab91fd86af, an ensemble
    # of three heads blended with embedding's prediction, session 9) beats it on the held-out
    # synthetic test mean (0.915 vs 0.825) but loses lexical accuracy (0.969 vs 1.000), which
    # rule 5 of issue 18 forbids; trained-4 also did worse on 50 real neurons (82% vs 92%
    # own-beats-controls): docs/SCORING.md.
    simulator: str = "embedding"
    simulator_model: str = "smollm2-135m"
    openai_base_url: str = ""
    openai_api_key: str = "not-needed"
    openai_model: str = ""
    # Who writes machine explanations: "tokens" (names the words the neuron fires on most; no
    # model), "llm" (local causal LM) or "openai" (the endpoint above), and how many a new
    # campaign's neurons are seeded with, scored (0 turns seeding off). "tokens" by default:
    # measured on 10 real neurons, smollm2-135m wrote a usable explanation for only 2 (see
    # docs/BENCHMARKS.md), at ~25 s a neuron on a CPU.
    explainer: str = "tokens"
    explainer_model: str = "smollm2-135m"
    seed_machine_explanations: int = 2

    # Device for models: "auto" picks CUDA when present.
    device: str = "auto"

    # Wire limits (bytes / characters / per-second budgets).
    max_frame_bytes: int = 16_384
    max_text_chars: int = 2_000
    max_explanation_chars: int = 280
    max_name_chars: int = 32
    flood_messages_per_s: float = 20.0
    flood_burst: int = 40
    flood_bytes_per_s: float = 64_000.0
    heartbeat_s: float = 20.0
    room_round_s: float = 180.0
    room_history: int = 500
    # Puzzle room timing (seconds): lobby wait before the first puzzle, the longest reveal
    # (waiting for scores) and the shortest one (time to read the results).
    room_lobby_s: float = 3.0
    room_reveal_s: float = 30.0
    room_reveal_min_s: float = 12.0
    # A room's lock lives this long unless its holder renews it (server/live/room_lock.py):
    # a web process that dies holding it freezes the room no longer than this (its members
    # stay process_lease_s), and a live one keeps it through a pause of the whole process up
    # to this less 0.5 s (2 s lost locks to a 2.1 s garbage-collector pass, issue 19).
    room_lock_ttl_s: float = Field(default=5.0, gt=0.05)
    # A web process's lease on the room memberships it holds (server/live/member_leases.py):
    # renewed every third of it; once it lapses any other process removes those members.
    process_lease_s: float = Field(default=6.0, gt=0.3)
    # How many top snippets a puzzle shows, and how many older explanations with it.
    room_clues: int = 8
    # A room whose members solved every ready unit waits this long for new ones being explained
    # (a fresh install's first minutes) before it serves a solved one again (room_kinds.py).
    room_wait_for_new_s: float = Field(default=120.0, ge=0)
    room_shown_explanations: int = 5
    # Per-connection queue of events not yet written to a slow socket before it is dropped.
    ws_outbox: int = 1_000
    # permessage-deflate keeps a zlib context per socket (about 100 KiB each, measured in
    # docs/BENCHMARKS.md "Load") and compresses every broadcast once per socket: off by default.
    ws_per_message_deflate: bool = False
    # uvicorn's websocket protocol: "websockets-sansio" holds less per socket than "websockets".
    ws_implementation: str = "websockets-sansio"
    # uvicorn's event loop: "asyncio", or "uvloop" (installed for the load generator). uvicorn's
    # own default ("auto") would switch to uvloop as soon as it is importable; the web process
    # stays on asyncio until the two are measured against each other (docs/BENCHMARKS.md "Load").
    web_event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    # Rooms bigger than this stop announcing each join and leave (a join storm of n players
    # would be n^2 frames); their clients follow the ``crowd`` count, and a snapshot lists at
    # most ``room_snapshot_members`` members beside the total.
    room_member_events_max: int = 200
    # Joins and leaves of a room are announced together, one ``members`` event at most this
    # often (server/live/room_members.py): a room filling up sent every member one frame per
    # joiner (issue 19).
    room_member_flush_s: float = 0.2
    room_snapshot_members: int = 200
    # A room's crowd count (players, audience) goes out at most this often (server/live/crowd.py).
    crowd_interval_s: float = 1.0
    # New guest sessions one client address may open per minute (server/api/guest_limit.py): a vote
    # farm of guests from one machine is cut off; 0 turns the limit off (load generator).
    guest_sessions_per_ip_per_min: int = 30

    # Competition (issue 6). Period boards (daily/weekly/monthly) expire this long after their
    # period ends; a room's board this long after its last point; quest results keep the top N.
    leaderboard_grace_s: int = 2 * 86_400
    leaderboard_room_ttl_s: int = 7 * 86_400
    leaderboard_page_max: int = 100
    quest_top_n: int = 10
    # A team challenge waits this long for the other captains, then stays listed as long again.
    team_challenge_ttl_s: int = 86_400
    weekly_quest_neurons: int = 5

    # Streamer rooms (issue 7): default player cap (past it people join as audience), the
    # largest cap a host may set, how often audience tallies are pushed, the longest timer
    # extension per command, and how long a room code stays reserved without activity.
    streamer_player_cap: int = 12
    streamer_max_player_cap: int = 100
    streamer_tally_interval_s: float = 0.5
    streamer_extend_max_s: float = 300.0
    streamer_room_ttl_s: int = 12 * 3600

    # Public read API (/api/v1): token buckets per client IP (anonymous) and the defaults
    # given to new API keys (heavy use); semantic search costs more tokens than a plain read.
    api_anon_rate_per_s: float = 5.0
    api_anon_burst: int = 60
    api_key_rate_per_s: float = 50.0
    api_key_burst: int = 500
    api_semantic_cost: float = 5.0

    # Advanced mode: the most test_text requests of one campaign a worker answers with one
    # padded forward pass (1 turns batching off: one forward pass per request).
    test_text_batch_max: int = Field(default=16, ge=1)

    # Queue names for RQ. "model": a player waits (scores, advanced mode); "warm": the
    # interactive worker's idle-time work (a round's neuron prepared for scoring before the
    # first submit); "default": background work (mining, machine explanations, rescoring).
    queue_default: str = "default"
    queue_model: str = "model"
    queue_warm: str = "warm"
    # A worker that takes no interactive queue runs at this CPU niceness (0 = as is), so mining
    # on the same cores yields them to the scoring worker; and with this many torch threads
    # (0 = torch's default).
    background_nice: int = Field(default=10, ge=0, le=19)
    background_threads: int = Field(default=1, ge=0)
    # Torch threads of a worker that takes the interactive queue (0 = one fewer than the cores,
    # at least one: the web process and the background worker keep a core; OpenMP threads that
    # wait for a busy core slow every score down, docs/BENCHMARKS.md).
    model_threads: int = Field(default=0, ge=0)
    # Prepare a round's neuron on the interactive worker when the round starts (the simulator
    # caches its records), so the first submit of the round does not pay for it.
    scoring_warm_up: bool = True

    # Faults (docs/RELIABILITY.md). A running RQ job renews its started-registry entry every
    # third of job_heartbeat_ttl_s (workers/rq_worker.py), so a worker killed mid-job (kill -9,
    # OOM) leaves an entry that expires within that TTL; every worker_maintenance_s a worker
    # hands such abandoned jobs to RQ, which retries them. An idle worker wakes every
    # worker_ttl_s - 15 s (RQ's poll), which bounds how late that check can run.
    job_heartbeat_ttl_s: int = Field(default=30, ge=2)
    worker_maintenance_s: int = Field(default=30, ge=1)
    worker_ttl_s: int = Field(default=45, ge=16)
    # A failed or abandoned scoring job is tried again after this, then after 6x this.
    scoring_retry_s: int = Field(default=10, ge=0)
    # How often a web process checks that Redis still holds its data (server/live/redis_watch.py).
    redis_check_s: float = 5.0
    # PostgreSQL: connecting gives up after this (libpq's minimum is 2 s), and so does a query
    # whose packets go unacknowledged (TCP_USER_TIMEOUT): a request fails with a clear error
    # instead of hanging while the database is unreachable.
    database_timeout_s: int = Field(default=5, ge=2)

    # Accounts and sessions (issue 16, docs/RELIABILITY.md "Accounts and edge attacks"). A
    # session token expires after session_ttl_s; register and login open a new one. Failed
    # logins are limited per account and per client address (the ``limits`` package's notation,
    # several windows separated by ";": the longer windows are the backoff), answered 429 with
    # Retry-After. At most password_check_concurrency argon2 checks run at once per process.
    session_ttl_s: int = Field(default=30 * 86_400, ge=60)
    login_failures_per_account: str = "5/minute;20/hour;100/day"
    login_failures_per_address: str = "20/minute;200/hour"
    password_check_concurrency: int = Field(default=2, ge=1)
    # Passwords: at least this long, and at least this zxcvbn score (0-4; 3 = "safely unguessable").
    password_min_chars: int = Field(default=10, ge=8)
    password_min_score: int = Field(default=3, ge=0, le=4)

    # The edge. Proxies whose X-Forwarded-For / -Proto are believed (comma-separated addresses or
    # networks, "*" for any); empty: none, the peer address is the client's.
    forwarded_allow_ips: str = ""
    # Origins a browser websocket may come from (comma-separated, e.g. "https://game.example");
    # empty: only the app's own (the Origin's host equals the request's Host).
    ws_allowed_origins: str = ""
    # Request bodies past this are refused with 413 while they are read, before buffering.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # A request head (request line + headers) must arrive within this many seconds and be at
    # most this many bytes, or the connection is closed (slowloris, huge URLs).
    request_head_timeout_s: float = Field(default=10.0, gt=0, le=30)
    max_request_head_bytes: int = Field(default=8 * 1024, ge=1024)
    # Open websockets one player, and one client address, may hold on a web process.
    ws_per_player: int = Field(default=8, ge=1)
    ws_per_address: int = Field(default=256, ge=1)
    # Wrong room codes per player and per address, wrong API keys per address (``limits`` notation).
    join_code_failures: str = "10/minute;60/hour"
    api_key_failures: str = "10/minute;100/hour"
    # An empty room's Redis keys expire after this (a join makes them permanent again).
    empty_room_ttl_s: int = Field(default=3600, ge=1)
    # /healthz answers within this (503 when Redis or the database did not answer in time).
    healthz_timeout_s: float = Field(default=0.8, gt=0)

    log_level: str = "info"

    # -- derived values -------------------------------------------------
    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_path / 'neuronquest.sqlite3'}"

    def effective_secret_key(self) -> str:
        """The signing key: ``secret_key``, else the data dir's key file, made once and read once
        per process (every token signed or checked asks; it went to disk each time)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_path / "secret_key"
        key = _KEY_FILES.get(path)
        if key is None:
            key = _KEY_FILES[path] = _read_or_make_key(path)
        return key

    def ensure_dirs(self) -> None:
        for sub in ("", "models", "redis", "corpus"):
            (self.data_path / sub).mkdir(parents=True, exist_ok=True)


# Key files already read, by path: a key never changes under a running process.
_KEY_FILES: dict[Path, str] = {}


def _read_or_make_key(path: Path) -> str:
    """The key in ``path``, made first if there is none. Processes starting together (web
    processes, workers) may all find no file: each writes its own candidate and links it into
    place, which only the first can do, so all of them read the same key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        candidate.write_text(secrets.token_urlsafe(48))
        candidate.chmod(0o600)
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process made it first: read theirs
        finally:
            candidate.unlink()
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide Settings, built once from the environment."""
    return Settings()


def child_environment(updates: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``updates``: what a role started by `up` receives.

    Here, beside Settings, because this module is the only one that touches the environment.
    """
    return {**os.environ, **updates}
