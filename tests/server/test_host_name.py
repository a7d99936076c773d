"""The host of a streamer room is named as they chose when creating it (their channel's name),
in the roster players get, in what they write, in the streamer view the audience and overlay
read, and it filters like any name. Before, the host showed as their random guest name."""

from __future__ import annotations

from tests.server.conftest import Client, LiveServer
from tests.server.test_streamer import finish, host_room, me, player


async def test_the_host_is_named_as_they_chose(live_server: LiveServer) -> None:
    host, created = await host_room(live_server, host_name="  Ada   Streams ")
    renamed = await host.expect("renamed")
    assert renamed["player"] == {"id": me(host), "name": "Ada Streams"}
    fan = await player(live_server, created["code"], "fan-session-1")
    snapshot = next(e for e in fan.events if e["type"] == "room")
    assert {"id": me(host), "name": "Ada Streams"} in snapshot["members"]
    view = await fan.expect("streamer")
    assert view["host"] == me(host) and view["host_name"] == "Ada Streams"

    await host.send({"type": "start"})
    await fan.expect("puzzle")
    await host.send({"type": "submit", "text": "the verb come"})
    written = await fan.expect("explanation")
    assert written["explanation"]["player_name"] == "Ada Streams"
    await finish(host, fan)


async def test_a_host_name_is_checked_like_any_name(live_server: LiveServer) -> None:
    host, created = await host_room(live_server, host_name="shit stream")  # the default filter masks
    assert (await host.expect("renamed"))["player"]["name"] == "**** stream"
    fan = await player(live_server, created["code"], "fan-session-2")
    assert (await fan.expect("streamer"))["host_name"] == "**** stream"
    await finish(host, fan)

    other = await Client.connect(live_server.ws_url)
    await other.expect("welcome")
    await other.send({"type": "create_room", "kind": "streamer", "host_name": "x" * 40})
    assert (await other.expect("error"))["code"] == "bad_field"
    await other.close()
