"""The socket hub: the /ws endpoint, one connection per socket, fan-out from Redis,
flood limits, heartbeats, and the dispatch of typed messages to the live room services."""
