"""Seeding puzzles with machine explanations on the real Redis and database, scored by a real worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from config import keys
from store.explanations import neuron_history
from store.models import Campaign, Explanation, Neuron, Score
from store.puzzles import baseline_scored
from tests.openai_stub import OpenAIStub
from tests.workers.test_scoring_jobs import _setup
from workers import context
from workers.explaining import NEURONS_PER_JOB, enqueue_campaign_seeding, seed_machine_explanations_job
from workers.queues import default_queue


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.engine.scoring_fixtures import build_tiny_lm

    return build_tiny_lm(tmp_path_factory.mktemp("seeding-lm") / "tiny")


def _use(settings, **update):  # type: ignore[no-untyped-def]
    s = settings.model_copy(update={"simulator": "embedding", **update})
    context.use_settings(s)
    return s


def _machine(db) -> list[Explanation]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return list(s.exec(select(Explanation).where(Explanation.source == "machine")).all())


def test_seeding_writes_machine_explanations_and_a_worker_scores_them(settings, db, redis_client, stub):
    neuron_id, player_ids = _setup(settings, db)
    redis_client.sadd(keys.seeding_pending(), neuron_id)
    s = _use(settings, explainer="openai", openai_base_url=stub.base_url, openai_model="stub-model")
    assert seed_machine_explanations_job(neuron_ids=[neuron_id], k=2) == {"written": 2, "neurons": 1}
    machine = _machine(db)
    assert len(machine) == 2 and all(e.player_id is None and e.neuron_id == neuron_id for e in machine)
    assert all(e.text and "\n" not in e.text for e in machine)
    queue = default_queue(redis_client, s)
    # Scored in the seeding job itself, as one batch: the neuron's bar is known before any
    # room can serve it (no separate rescore job that might run an hour later). The one job
    # queued is their embedding, at the front, so search finds them early (issue 17).
    assert [job.func_name for job in queue.jobs] == ["workers.reference.embed_explanations_job"]
    queue.empty()
    assert not redis_client.sismember(keys.seeding_pending(), neuron_id)  # served from now on
    with db.session() as session:
        assert baseline_scored(session, neuron_id)
        scored = {sc.explanation_id for sc in session.exec(select(Score)).all()}
        history, _, _ = neuron_history(session, neuron_id, shown=10)
    assert {e.id for e in machine} <= scored and set(player_ids) <= scored
    shown = {row["id"]: row for row in history}
    for e in machine:
        assert shown[e.id]["player_name"] == "machine" and shown[e.id]["player_id"] is None
        assert isinstance(shown[e.id]["score"], float)
    # Run again: the neuron already has its machine explanations, nothing new is written or queued.
    assert seed_machine_explanations_job(neuron_ids=[neuron_id], k=2) == {"written": 0, "neurons": 0}
    assert len(_machine(db)) == 2 and queue.count == 0
    # Asking for more tops up to the new count.
    assert seed_machine_explanations_job(neuron_ids=[neuron_id], k=3)["written"] == 1


def test_seeding_a_whole_campaign(settings, db, redis_client, stub):
    neuron_id, _ = _setup(settings, db)
    _use(settings, explainer="openai", openai_base_url=stub.base_url, openai_model="stub-model")
    with db.session() as s:
        campaign_id = s.get(Neuron, neuron_id).campaign_id  # type: ignore[union-attr]
        silent = Neuron(campaign_id=campaign_id, index=8)  # no records: nothing to explain
        s.add(silent)
        s.commit()
    assert seed_machine_explanations_job(campaign_id=campaign_id, k=1) == {"written": 1, "neurons": 1}
    with pytest.raises(ValueError, match="either a campaign id or a list"):
        seed_machine_explanations_job(campaign_id=campaign_id, neuron_ids=[neuron_id])


def test_a_missing_explainer_model_is_reported_not_retried(settings, db, redis_client):
    neuron_id, _ = _setup(settings, db)
    _use(settings, explainer="llm", explainer_model=str(settings.data_path / "no-such-model"))
    result = seed_machine_explanations_job(neuron_ids=[neuron_id], k=2)
    assert result["written"] == 0 and "cannot load the explainer model" in result["skipped"]
    assert _machine(db) == []


def test_a_built_campaign_is_queued_for_seeding_unless_turned_off(settings, db, redis_client):
    with db.session() as s:
        campaign = Campaign(name="built", model="minilm-l6", layer=3, status="ready")
        s.add(campaign)
        s.commit()
        neurons = [Neuron(campaign_id=campaign.id, index=i) for i in range(20)]
        s.add_all(neurons)
        s.commit()
        ids = sorted(int(n.id or 0) for n in neurons)
    off = settings.model_copy(update={"seed_machine_explanations": 0})
    assert enqueue_campaign_seeding(redis_client, off, db, "built") == []
    assert enqueue_campaign_seeding(redis_client, settings, db, "no-such-campaign") == []
    jobs = enqueue_campaign_seeding(redis_client, settings, db, "built")
    # 20 neurons, NEURONS_PER_JOB per job, on the background queue, with the configured K.
    assert [len(j.args[1]) for j in jobs] == [NEURONS_PER_JOB] * (20 // NEURONS_PER_JOB)
    assert all(j.args[2] == 2 for j in jobs) and sorted(n for j in jobs for n in j.args[1]) == ids
    assert default_queue(redis_client, settings).count == len(jobs)
    # Until its job has seeded and scored it, no room serves a neuron (bar unknown).
    assert {int(n) for n in redis_client.smembers(keys.seeding_pending())} == set(ids)


def test_an_explainer_that_falls_short_is_topped_up_with_the_word_list(settings, db, redis_client, tiny_lm):
    neuron_id, _ = _setup(settings, db)
    _use(settings, explainer="llm", explainer_model=str(tiny_lm))
    import engine.scoring.explainer as explainer_module

    # A model that only ever repeats the prompt's worked example writes nothing usable.
    original = explainer_module.LocalLMExplainer._sample
    explainer_module.LocalLMExplainer._sample = lambda self, ids, cache: " days of the week."  # type: ignore[method-assign]
    try:
        assert seed_machine_explanations_job(neuron_ids=[neuron_id], k=2)["written"] == 1
        assert seed_machine_explanations_job(neuron_ids=[neuron_id], k=2)["written"] == 0  # no duplicate
    finally:
        explainer_module.LocalLMExplainer._sample = original  # type: ignore[method-assign]
    [only] = _machine(db)
    assert only.text.startswith("the words ")
