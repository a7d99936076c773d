"""Live room services: puzzle, streamer, team-match and quest rooms kept in Redis;
membership, crowd counts, audiences and moderation. No sockets here: the hub calls in."""
