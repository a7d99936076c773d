"""Which room kinds this server runs: one ``register`` line per kind (server/live/room_kinds.py).

The order is the order in which a room id is matched; a room no kind claims is a plain puzzle
room. Quest credit is not a kind either: the scoring worker gives it (store/quest_credit.py).
"""

from __future__ import annotations

import redis

from server.hub.fanout import Hub
from server.live.match_rooms import MatchRooms
from server.live.neuron_rooms import NeuronRooms
from server.live.private_rooms import PrivateRooms
from server.live.quest_rooms import QuestRooms
from server.live.room_kinds import RoomKinds
from server.live.streamer import StreamerRooms


def register_kinds(hub: Hub, r_sync: redis.Redis) -> RoomKinds:
    """Register every kind on the hub's room service; returns the registry."""
    service = hub.service
    kinds = service.kinds
    kinds.register(QuestRooms(service))
    kinds.register(MatchRooms(service))
    kinds.register(StreamerRooms(service, hub, service.settings))
    kinds.register(PrivateRooms(service, hub))
    kinds.register(NeuronRooms(service))
    return kinds
