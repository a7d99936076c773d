"""Live room services: puzzle, streamer, team-match and quest rooms kept in Redis, each kind
behind one interface (room_kinds.py, registered in kinds.py); membership, crowd counts,
audiences and moderation. No sockets here: the hub calls in."""
