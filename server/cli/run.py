"""Process roles: `up` (everything), `web`, `worker`, `scheduler` (one each, for the Procfile)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import socket
import threading

import redis

from config.settings import Settings
from server.cli.main import CliError
from server.cli.runtime import with_redis

# Container allocations (net) between two young passes of the cyclic garbage collector; Python's
# default is 700. A connect storm keeps ~200 joins in flight, and every young pass promoted what
# they held at that moment; those objects died in the old generation, where they counted toward
# the next full pass (a full pass runs when that count reaches a quarter of the old generation).
# 10,000 idle sockets connecting made 26 full passes over every socket's objects, about a third
# of the web process's time, up to 1.5 s each with the event loop stopped; with 10,000, 7
# (issue 19, docs/BENCHMARKS.md). Cyclic garbage waits longer for its pass: a few MB at most.
YOUNG_GC_THRESHOLD = 10_000


def settle_garbage_collector() -> None:
    """Start-up is over: freeze what it made, and collect young garbage less often."""
    # A full pass of the cyclic garbage collector walked every object of the process, the
    # ~120,000 of start-up (modules, SQLAlchemy, the app) included: ~110 ms with the event loop
    # stopped, a tail of the fan-out (issue 19). They live as long as the process: frozen out
    # of every later pass (a full pass then takes what the sockets and rooms hold).
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser("up", help="run web + worker + scheduler (and a private Redis) together")
    up.add_argument("--host", help="interface to listen on (default: Settings.host)")
    up.add_argument("--port", type=int, help="port to listen on (default: Settings.port)")
    up.set_defaults(func=cmd_up)

    web = subparsers.add_parser("web", help="run one web process (HTTP API + websocket hub)")
    web.add_argument("--host")
    web.add_argument("--port", type=int)
    web.set_defaults(func=cmd_web)

    worker = subparsers.add_parser("worker", help="run one RQ worker (models, scoring, mining)")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument(
        "--queues",
        default="",
        help="comma-separated queues to take jobs from, in priority order "
        "(default: all; 'model' = interactive scoring and test text, 'default' = background work)",
    )
    worker.set_defaults(func=cmd_worker)

    scheduler = subparsers.add_parser("scheduler", help="run the periodic-task scheduler")
    scheduler.set_defaults(func=cmd_scheduler)


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )


def _resolved(settings: Settings) -> Settings:
    try:
        return with_redis(settings)
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from exc


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from server.cli.startup import after_start
    from server.cli.supervisor import Supervisor

    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    _check_port(host, port)
    return Supervisor(settings, host, port).run(after_start=after_start)


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from server.app import create_app
    from server.cli.http_limits import uvicorn_limits

    settings = _resolved(settings)
    _logging(settings)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    app = create_app(settings)
    settle_garbage_collector()
    uvicorn.run(
        app,
        host=host,
        port=port,
        ws=settings.ws_implementation,
        loop=settings.web_event_loop,
        ws_per_message_deflate=settings.ws_per_message_deflate,
        log_level=settings.log_level,
        # Our own heartbeat drops dead sockets; keep the protocol-level ping too.
        ws_ping_interval=settings.heartbeat_s,
        ws_ping_timeout=settings.heartbeat_s,
        ws_max_size=settings.max_frame_bytes * 4,
        timeout_graceful_shutdown=5,
        # Forwarded headers only from named proxies; request heads bounded in time and size.
        **uvicorn_limits(settings),
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers.context import use_settings
    from workers.queues import all_queues
    from workers.rq_worker import make_worker

    settings = _resolved(settings)
    _logging(settings)
    use_settings(settings)
    connection = redis.Redis.from_url(settings.redis_url)
    # A SimpleWorker runs jobs in this process, so a model loaded by one job stays loaded for
    # the next: the whole point of a model worker. Its jobs have a heartbeat, so a job of a
    # worker that died is retried within about a minute (workers/rq_worker.py).
    queues = all_queues(connection, settings)
    if args.queues:
        wanted = [name.strip() for name in args.queues.split(",") if name.strip()]
        known = {q.name: q for q in queues}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise CliError(f"unknown queue {unknown[0]!r}; queues are: {', '.join(known)}")
        queues = [known[name] for name in wanted]
    if any(q.name == settings.queue_model for q in queues):
        _model_threads(settings)
        _warm_up(settings)
    else:
        _yield_cpu(settings)
    worker = make_worker(queues, connection, settings, name=f"nq-{os.getpid()}")
    worker.work(burst=args.burst, with_scheduler=True, logging_level=settings.log_level.upper())
    return 0


def _warm_up(settings: Settings) -> None:
    """Load the simulator and the default campaign's model before the first job, so neither the
    first player's score nor their first advanced-mode answer is the slow one."""
    from engine.models import load_model
    from workers.scoring import get_simulator

    try:
        get_simulator(settings)
        load_model(settings.default_model, device=settings.device, data_dir=settings.data_path)
    except Exception:  # the job will report the real error to the room that asked
        logging.getLogger("neuronquest.worker").exception("model warm-up failed")


def _model_threads(settings: Settings) -> None:
    import torch

    torch.set_num_threads(settings.model_threads or max(1, (os.cpu_count() or 2) - 1))


def _yield_cpu(settings: Settings) -> None:
    """A background-only worker leaves the cores to the interactive one: mining or rescoring
    on the same cores must not stretch a player's wait for a score (docs/BENCHMARKS.md)."""
    if settings.background_nice:
        os.nice(settings.background_nice)
    if settings.background_threads:
        import torch

        torch.set_num_threads(settings.background_threads)


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from server.cli.scheduler import Scheduler, SchedulerContext
    from store.db import Database

    settings = _resolved(settings)
    _logging(settings)
    ctx = SchedulerContext(
        settings=settings, db=Database(settings), redis=redis.Redis.from_url(settings.redis_url)
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    logging.getLogger("neuronquest.scheduler").info("scheduler started")
    Scheduler(ctx, owner=f"scheduler-{socket.gethostname()}-{os.getpid()}").run_forever(stop)
    return 0
