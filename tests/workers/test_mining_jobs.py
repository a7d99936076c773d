"""Campaign building and test-text as RQ jobs on the real Redis and database."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import orjson
import pytest
import redis
from rq import SimpleWorker
from rq.job import JobStatus

from config import keys
from config.settings import Settings
from server.cli import models as model_commands
from server.cli.main import CliError
from store.campaigns import get_neuron, list_campaigns, neuron_records
from store.db import Database
from workers import context, mining
from workers.activations import test_text_job
from workers.mining import (
    build_campaign,
    build_campaign_job,
    default_campaign_missing,
    ensure_default_campaign,
    ensure_default_campaign_job,
)
from workers.queues import default_queue, model_queue

SMALL = 48 * 64  # tokens: 48 windows, enough for 20 top + 20 random


def _drain(pubsub: redis.client.PubSub) -> list[dict]:
    events = []
    while (msg := pubsub.get_message(timeout=0.2)) is not None:
        if msg["type"] == "message":
            events.append(orjson.loads(msg["data"]))
    return events


def _run_job(settings: Settings, r: redis.Redis, func, *args) -> tuple[object, list[dict]]:  # type: ignore[no-untyped-def]
    context.use_settings(settings)
    job = model_queue(r, settings).enqueue(func, *args)
    pubsub = r.pubsub()
    pubsub.subscribe(keys.job_progress_channel(job.id))
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    SimpleWorker([model_queue(r, settings)], connection=r).work(burst=True)
    job.refresh()
    events = _drain(pubsub)
    pubsub.close()
    return job, events


def test_build_job_streams_progress_and_writes_campaign(
    settings: Settings, db: Database, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mining, "FIRST_SEEDED", 4)  # of the 16 neurons built here
    job, events = _run_job(
        settings, redis_client, build_campaign_job, "c1", "minilm-l6", 3, 10, 26, None, SMALL
    )
    assert job.get_status() == JobStatus.FINISHED
    progress = [e for e in events if e["type"] == "progress"]
    assert progress and progress[-1]["tokens"] == progress[-1]["total"] == SMALL
    assert set(progress[0]) == {"type", "tokens", "total", "tokens_per_s", "eta_s"}
    assert events[-1] == {"type": "done", "campaign": "c1", "neurons": 16}
    # The latest progress also stays readable for the browser's banner (GET /api/status).
    assert orjson.loads(redis_client.get(keys.campaign_progress("c1")) or b"{}")["tokens"] == SMALL
    with db.session() as s:
        (info,) = list_campaigns(s)
        assert (info.name, info.model, info.layer, info.neurons_mined, info.status) == (
            "c1",
            "minilm-l6",
            3,
            16,
            "ready",
        )
        assert get_neuron(s, "c1", 9) is None and get_neuron(s, "c1", 26) is None
        neuron = get_neuron(s, "c1", 10)
        assert neuron is not None and 0 < neuron.frac_active <= 1
        top, rand = neuron_records(s, neuron.id)  # type: ignore[arg-type]
    assert len(top) == 20 and len(rand) == 20
    assert [r.max_activation for r in top] == sorted((r.max_activation for r in top), reverse=True)
    assert top[0].max_activation == pytest.approx(neuron.max_activation, abs=1e-5)
    assert all(len(r.tokens) == 64 for r in top + rand)
    assert not (settings.data_path / "campaigns" / "c1.ckpt").exists()
    assert redis_client.get(keys.campaign_build_lock("c1")) is None
    # Related neurons for the neuron pages follow on the default queue, right behind the first
    # FIRST_SEEDED neurons' seeding, ahead of the rest (they waited 7.5 min behind all of it).
    queued = default_queue(redis_client, settings).jobs
    related = [i for i, j in enumerate(queued) if "related" in j.func_name]
    assert [(queued[i].func_name, queued[i].args) for i in related] == [
        ("workers.reference.related_neurons_job", (neuron.campaign_id,))
    ]
    seeded_before = [n for j in queued[: related[0]] if "seed" in j.func_name for n in j.args[1]]
    seeded_after = [n for j in queued[related[0] :] if "seed" in j.func_name for n in j.args[1]]
    assert len(seeded_before) == 4 and len(seeded_after) == 12


def test_build_job_with_bad_arguments_fails_visibly(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    job, events = _run_job(
        settings, redis_client, build_campaign_job, "c2", "minilm-l6", 9, 0, 4, None, SMALL
    )
    assert job.get_status() == JobStatus.FAILED
    assert events == [{"type": "failed", "error": "layer 9 out of range: minilm-l6 has layers 0-5"}]
    with db.session() as s:
        assert list_campaigns(s) == []  # nothing written for bad arguments


def test_second_build_of_same_campaign_is_refused(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    redis_client.set(keys.campaign_build_lock("c3"), "other-job")
    _job, events = _run_job(
        settings, redis_client, build_campaign_job, "c3", "minilm-l6", 3, 0, 4, None, SMALL
    )
    assert events == [{"type": "failed", "error": "campaign 'c3' is already being built"}]


def test_test_text_job_answers_the_player(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    context.use_settings(settings)
    build_campaign(
        settings, db, name="c4", model="minilm-l6", layer=3, neuron_start=0, neuron_end=8, max_tokens=SMALL
    )
    pubsub = redis_client.pubsub()
    pubsub.subscribe(keys.player_channel(42))
    pubsub.get_message(timeout=1)
    ok = test_text_job("c4", 5, "The cat sat.", 42, "room-1", "req-1")
    bad_text = test_text_job("c4", 5, "   ", 42, "room-1", "req-2")
    bad_neuron = test_text_job("c4", 8, "The cat sat.", 42, "room-1", "req-3")
    sent = _drain(pubsub)
    pubsub.close()
    assert sent == [ok, bad_text, bad_neuron]
    assert ok["type"] == "activations" and ok["request_id"] == "req-1"
    assert (ok["campaign"], ok["neuron"]) == ("c4", 5)
    assert ok["tokens"] == ["[CLS]", "the", "cat", "sat", ".", "[SEP]"]
    assert len(ok["activations"]) == 6 and ok["max"] == max(ok["activations"])
    assert ok["activations"][ok["max_index"]] == ok["max"]
    assert bad_text == {
        "type": "error",
        "code": "bad_text",
        "message": "text is empty",
        "request_id": "req-2",
    }
    assert bad_neuron["code"] == "bad_neuron" and "0-7" in bad_neuron["message"]
    long_text = test_text_job("c4", 5, "x" * (settings.max_text_chars + 1), 42, "r", "req-4")
    assert long_text["code"] == "bad_text" and str(settings.max_text_chars) in long_text["message"]


def test_default_campaign_is_mined_once(settings: Settings, db: Database) -> None:
    small = settings.model_copy(update={"default_neurons": 8, "default_max_tokens": SMALL})
    assert default_campaign_missing(small, db)
    seen = []
    assert ensure_default_campaign(small, db, on_progress=seen.append) is True
    assert seen and seen[-1].tokens == SMALL
    assert not default_campaign_missing(small, db)
    assert ensure_default_campaign(small, db) is False
    context.use_settings(small)
    assert ensure_default_campaign_job() == {"type": "done", "campaign": small.default_campaign, "neurons": 8}
    with db.session() as s:
        (info,) = list_campaigns(s)
    assert (info.name, info.model, info.neurons_mined) == (small.default_campaign, "minilm-l6", 8)


def _cli(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    model_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args, settings)


def test_cli_build_list_and_activations(
    settings: Settings, db: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    corpus = tmp_path / "mine.jsonl"
    corpus.write_text(
        "\n".join(json.dumps({"text": f"Sentence number {i} about cats and dogs."}) for i in range(200))
    )
    argv = ["campaign", "build", "--model", "minilm-l6", "--layer", "2", "--neurons", "0-3"]
    assert _cli(settings, *argv, "--corpus", str(corpus), "--quiet") == 0
    assert "4 neurons mined" in capsys.readouterr().out
    with pytest.raises(CliError, match="already exists"):
        _cli(settings, *argv, "--quiet")
    assert _cli(settings, "campaign", "list", "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["layer"], row["neurons_mined"], row["corpus"]) == (
        "minilm-l6-layer2",
        2,
        4,
        str(corpus),
    )
    act = [
        "activations",
        "--model",
        "minilm-l6",
        "--layer",
        "2",
        "--neuron",
        "3",
        "--text",
        "Cats!",
        "--json",
    ]
    assert _cli(settings, *act) == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"tokens", "display", "activations", "max", "max_index"}
    assert answer["tokens"] == ["[CLS]", "cats", "!", "[SEP]"]
    assert answer["display"] == ["", "Cats", "!", ""]  # the typed text, special tokens empty
    with pytest.raises(CliError, match="neurons 0-1535"):
        _cli(settings, *act[:-4], "1536", "--text", "x")
    with pytest.raises(CliError, match="expected A-B"):
        _cli(settings, *argv[:-1], "a-b")
    with pytest.raises(CliError, match="can pull smollm2-135m or gpt2"):
        _cli(settings, "models", "pull", "bert-base")


def test_same_campaign_cannot_be_built_twice_at_once(settings: Settings, db: Database) -> None:
    # A second build (another CLI or a worker) of a campaign being built is refused, not mixed in.
    inner: list[str] = []

    def start_second(_progress: object) -> None:
        if inner:
            return
        try:
            build_campaign(
                settings, db, name="c5", model="minilm-l6", layer=3, neuron_end=4, max_tokens=SMALL
            )
        except ValueError as exc:
            inner.append(str(exc))

    build_campaign(
        settings,
        db,
        name="c5",
        model="minilm-l6",
        layer=3,
        neuron_end=4,
        max_tokens=SMALL,
        on_progress=start_second,
    )
    assert inner == ["campaign 'c5' is already being built by another process"]
    with db.session() as s:
        assert [(c.name, c.neurons_mined, c.status) for c in list_campaigns(s)] == [("c5", 4, "ready")]


def test_mined_records_show_the_text_as_the_corpus_wrote_it(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    """WordPiece cannot say "non-programmers" had no spaces; the corpus's text can, so what a
    player reads in clues, reveals and pages is the writer's hyphens, quotes and casing."""
    from sqlmodel import select

    from store.models import Snippet
    from store.puzzles import neuron_clues
    from store.reference import record_json

    line = 'Non-programmers use e-mail; they said "Hi" (ok) at 10:30 in   Paris.'
    corpus = tmp_path / "hyphens.txt"
    corpus.write_text("\n\n".join(f"{line} Line {i}." for i in range(120)))
    build_campaign(settings, db, name="shown", model="minilm-l6", layer=2, neuron_end=2, corpus=str(corpus))
    with db.session() as s:
        rows = s.exec(select(Snippet)).all()
        assert rows and all(r.display is not None and len(r.display) == len(r.tokens) for r in rows)
        texts = ["".join(record_json(r, 1.0, "wordpiece")["display"]) for r in rows]
        assert all("  " not in t and not t.startswith(" ") for t in texts)  # one space, none first
        # Every window is a stretch of the corpus, white space read as one space.
        flat = " ".join(f"{line} Line {i}." for i in range(120)).replace("   ", " ")
        assert all(t in flat for t in texts)
        assert any("Non-programmers use e-mail;" in t for t in texts)
        assert any('said "Hi" (ok) at 10:30' in t for t in texts)
        neuron_id = rows[0].neuron_id
        found = neuron_clues(s, neuron_id, 5)
        assert found is not None
        _, clues = found
        assert all(len(c["display"]) == len(c["tokens"]) for c in clues)
        # Records from before display text was kept (NULL) are still shown, derived from tokens.
        old = rows[0]
        old.display = None
        s.add(old)
        s.commit()
        derived = "".join(record_json(old, 1.0, "wordpiece")["display"])
        assert derived == derived.lower() and "-" in derived  # the tokens' text, as before


def test_clues_do_not_show_a_text_twice_when_the_corpus_holds_it_twice(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    """Debian's fortunes hold some quotes twice; mining keeps both copies (they fall in other
    windows), and a round showed the same clue twice among eight. The clues skip a snippet that
    repeats an earlier one around its peak and take the next one by rank."""
    from sqlmodel import col, select

    from store.models import Snippet
    from store.puzzles import SAME_CLUE_SPAN, neuron_clues

    words = ["river", "stone", "garden", "lamp", "violin", "copper", "winter", "market", "ladder", "pocket"]
    quotes = [f"The {a} met the {b} near {c} {i} times." for i, (a, b, c) in enumerate(
        (words[i % 10], words[(3 * i + 1) % 10], words[(7 * i + 2) % 10]) for i in range(70))]  # fmt: skip
    # The second copy starts one sentence later, so no window of it equals one of the first.
    corpus = tmp_path / "twice.txt"
    corpus.write_text("\n\n".join([*quotes, "An aside.", *quotes]))
    build_campaign(settings, db, name="twice", model="minilm-l6", layer=2, neuron_end=6, corpus=str(corpus))

    def peak(tokens: list[str], at: int) -> tuple[str, ...]:
        return tuple(tokens[max(0, at - SAME_CLUE_SPAN) : at + SAME_CLUE_SPAN + 1])

    repeated = 0
    with db.session() as s:
        for index in range(6):
            neuron = get_neuron(s, "twice", index)
            assert neuron is not None and neuron.id is not None
            top = s.exec(
                select(Snippet)
                .where(Snippet.neuron_id == neuron.id, Snippet.kind == "top")
                .order_by(col(Snippet.rank))
            ).all()
            keys = [peak(t.tokens, t.max_index) for t in top]
            repeated += len(keys) - len(set(keys))
            found = neuron_clues(s, neuron.id, 8)
            assert found is not None
            shown = [peak(c["tokens"], c["max_index"]) for c in found[1]]
            assert len(shown) == len(set(shown)) == min(8, len(set(keys)))
            assert shown == list(dict.fromkeys(keys))[:8], "the rest in rank order"
    assert repeated > 0, "the corpus put some text twice among the top snippets"
