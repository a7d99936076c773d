"""The hub, the handlers and the room service know the room-kind interface, not the kinds.

Adding a kind is one module plus one ``register`` line in server/live/kinds.py; this fails when
one of the three names a kind's module again (as the handlers once built a ``MatchRooms`` per
message and the room service checked quest ids itself).
"""

from __future__ import annotations

import ast
from pathlib import Path

from server.live.room_kinds import RoomKind, RoomKinds

ROOT = Path(__file__).resolve().parents[2]
GENERIC = ["server/hub/fanout.py", "server/hub/handlers.py", "server/hub/endpoint.py",
           "server/live/room_service.py"]  # fmt: skip
KIND_MODULES = {"server.live.match_rooms", "server.live.quest_rooms", "server.live.streamer"}


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_generic_modules_import_no_kind() -> None:
    for rel in GENERIC:
        assert not (_imported(ROOT / rel) & KIND_MODULES), rel


def test_registry_finds_a_kind_by_room_id_and_falls_back_to_the_puzzle_room() -> None:
    class Vip(RoomKind):
        name = "vip"

        def claims(self, room_id: str) -> bool:
            return room_id.startswith("vip-")

    plain = RoomKind(service=None)  # type: ignore[arg-type]
    kinds = RoomKinds(plain)
    vip = kinds.register(Vip(service=None))  # type: ignore[arg-type]
    assert kinds.of("vip-1") is vip and kinds.of("lobby") is plain
    assert kinds.named("vip") is vip and kinds.for_message(object()) is None
