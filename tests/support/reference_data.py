"""A small campaign with explanations, scores and votes, written straight into the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from store.db import Database
from store.models import Campaign, Explanation, Neuron, Player, Score, Snippet, Vote

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

EXPLANATIONS = [
    # (neuron index, author, text, scores [(simulator, version, score)], voters)
    (0, "alice", "dates: days, months and years", [("embedding", "emb-1", 0.6)], ["bob"]),
    (0, "bob", "numbers", [("embedding", "emb-1", 0.22), ("llm", "llm-2", 0.35)], ["alice", "carol"]),
    (1, "carol", "Python source code keywords like def and import", [("embedding", "emb-1", 0.48)], []),
    (2, "alice", "the word 'the' and other English articles", [], ["carol"]),
    (2, "bob", "<script>alert('x')</script> html tags", [("embedding", "emb-1", 0.05)], []),
]

WINDOWS = [
    ["on", "march", "3", ",", "2021", "the", "city", "voted"],
    ["def", "main", "(", ")", ":", "import", "sys", "return"],
    ["the", "cat", "sat", "on", "the", "mat", "in", "july"],
    ["in", "1999", "the", "year", "ended", "on", "friday", "night"],
]


@dataclass
class Seeded:
    campaign: str
    neuron_ids: list[int] = field(default_factory=list)
    explanation_ids: list[int] = field(default_factory=list)
    player_ids: dict[str, int] = field(default_factory=dict)


def _acts(index: int, tokens: list[str]) -> list[float]:
    # Each neuron likes a different kind of token: digits, code words, "the", anything long.
    likes = [
        lambda t: t.isdigit() or t in {"march", "july", "friday"},
        lambda t: t in {"def", "import", "return", "(", ")", ":"},
        lambda t: t == "the",
        lambda t: len(t) > 4,
    ][index % 4]
    return [round(2.5 * likes(t) + 0.05 * i, 4) for i, t in enumerate(tokens)]


def seed_reference(
    db: Database, name: str = "minilm-test", neurons: int = 4, *, source: str = "neurons"
) -> Seeded:
    """The campaign ``name``: of neurons, or of the latents of SAE ``source`` when one is named
    (same model, layer and indices either way: the two must never be mixed up)."""
    seeded = Seeded(name)
    unit = "neuron" if source == "neurons" else "latent"
    with db.session() as s:
        campaign = Campaign(
            name=name, model="minilm-l6", layer=3, unit=unit, source=source, corpus="tiny", window=8,
            neuron_start=0, neuron_end=neurons, tokens_seen=32, status="ready", created_at=T0, updated_at=T0,
        )  # fmt: skip
        s.add(campaign)
        for who in ("alice", "bob", "carol"):
            if s.exec(select(Player).where(Player.login == who)).first() is None:
                s.add(Player(name=who, login=who, is_guest=False, created_at=T0))
        s.commit()
        for p in s.exec(select(Player)):
            seeded.player_ids[p.name] = int(p.id or 0)
        for index in range(neurons):
            all_acts = [_acts(index, w) for w in WINDOWS]
            top = max(max(a) for a in all_acts)
            neuron = Neuron(
                campaign_id=campaign.id, index=index, max_activation=top, mean_activation=0.4,
                frac_active=0.125, histogram={"edges": [0.0, 1.0, 2.0, 3.0], "counts": [20, 4, 8]},
            )  # fmt: skip
            s.add(neuron)
            s.commit()
            seeded.neuron_ids.append(int(neuron.id or 0))
            order = sorted(range(len(WINDOWS)), key=lambda w: -max(all_acts[w]))
            for rank, w in enumerate(order):
                acts = all_acts[w]
                s.add(
                    Snippet(
                        neuron_id=neuron.id, kind="top" if rank < 3 else "random", rank=rank % 3,
                        tokens=WINDOWS[w], activations=acts, max_activation=max(acts),
                        max_index=acts.index(max(acts)),
                    )
                )  # fmt: skip
        s.commit()
        for n, (index, author, text, scores, voters) in enumerate(EXPLANATIONS):
            e = Explanation(
                neuron_id=seeded.neuron_ids[index], player_id=seeded.player_ids[author], text=text,
                created_at=T0 + timedelta(minutes=n),
            )  # fmt: skip
            s.add(e)
            s.commit()
            seeded.explanation_ids.append(int(e.id or 0))
            for simulator, version, value in scores:
                s.add(
                    Score(
                        explanation_id=e.id, simulator=simulator, version=version, score=value,
                        per_record=[value, value / 2], detail={"b": 1, "a": [1, 2]},
                        created_at=T0 + timedelta(minutes=n, seconds=30),
                    )
                )  # fmt: skip
            for voter in voters:
                voted = T0 + timedelta(hours=1)
                s.add(Vote(explanation_id=e.id, player_id=seeded.player_ids[voter], created_at=voted))
        s.commit()
    return seeded
