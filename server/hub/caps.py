"""How many websockets one player and one client address may hold open on this web process.

One token opened 400 sockets, each joined to a room of its own: a farm, and memory. The
counts live in this process (a socket belongs to exactly one process, and a process that dies
takes its sockets and its counts with it, so nothing can leak), which bounds what one player
or address holds per web process; `up` runs one web process.
"""

from __future__ import annotations

from collections import Counter

from config.settings import Settings


class SocketCaps:
    def __init__(self, settings: Settings) -> None:
        self.per_player, self.per_address = settings.ws_per_player, settings.ws_per_address
        self.players: Counter[int] = Counter()
        self.addresses: Counter[str] = Counter()

    def address_full(self, address: str) -> bool:
        return self.addresses[address] >= self.per_address

    def take(self, player_id: int, address: str) -> str | None:
        """Count one socket; the reason when a cap is reached (then nothing is counted)."""
        if self.players[player_id] >= self.per_player:
            return f"at most {self.per_player} open connections per player; close another tab"
        if self.address_full(address):
            return f"at most {self.per_address} open connections from one address"
        self.players[player_id] += 1
        self.addresses[address] += 1
        return None

    def give_back(self, player_id: int, address: str) -> None:
        for counter, key in ((self.players, player_id), (self.addresses, address)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]
