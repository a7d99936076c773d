"""An open socket's handler sits right under uvicorn's (server/hub/direct_socket.py): none of
Starlette's layers stays on its stack for the socket's life, where the cyclic garbage collector
walked their ~40 objects per idle socket in every pass (issue 19)."""

from __future__ import annotations

import gc
import types
from typing import Any

from tests.server.conftest import Client
from tests.server.test_raw_writes import deployed  # noqa: F401  (the fixture)

# The first name of each coroutine Starlette's app, middlewares and routing kept on a socket's stack.
STARLETTE_LAYERS = {
    "Starlette",
    "ServerErrorMiddleware",
    "ExceptionMiddleware",
    "wrap_app_handling_exceptions",
    "Router",
    "WebSocketRoute",
    "websocket_session",
}


def socket_stacks() -> list[list[str]]:
    """Each suspended coroutine chain that runs a /ws endpoint, outermost first, by name."""
    coroutines = [o for o in gc.get_objects() if type(o) is types.CoroutineType]
    awaited = {id(c.cr_await) for c in coroutines if type(c.cr_await) is types.CoroutineType}
    stacks = []
    for top in (c for c in coroutines if id(c) not in awaited):
        chain: list[str] = []
        node: Any = top
        while type(node) is types.CoroutineType:
            chain.append(node.__qualname__)
            node = node.cr_await
        if "ws_endpoint" in chain:
            stacks.append(chain)
    return stacks


async def test_an_open_sockets_handler_holds_no_starlette_layer(deployed: tuple[str, object]) -> None:  # noqa: F811
    url, _app = deployed
    client = await Client.connect(url)
    await client.expect("welcome")
    await client.join_round("direct")
    stacks = socket_stacks()
    assert len(stacks) == 1, stacks
    above = stacks[0][: stacks[0].index("ws_endpoint")]
    # uvicorn's own (run_asgi, and its proxy-headers middleware where it is on) and the app's
    # entry; through Starlette ten more.
    assert above[-1] == "DirectSocketApp.__call__", above
    assert not [name for name in above if name.split(".")[0] in STARLETTE_LAYERS], above
    await client.close()
