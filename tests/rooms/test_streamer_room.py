"""Streamer room rules without a server: codes, the filter, entry, roles and the clock."""

from __future__ import annotations

import pytest

from rooms.moderation import FilterMode, clean, is_rude
from rooms.puzzle_room import Phase, RoomError, RoomState
from rooms.roomcodes import ALPHABET, CODE_LENGTH, new_code, normalize
from rooms.streamer_room import Role, StreamerState


def state(**kw: object) -> StreamerState:
    return StreamerState(room_id="s-1", code="QXBR", host_id=1, **kw)  # type: ignore[arg-type]


def test_codes_use_only_unmistakable_letters() -> None:
    for confusing in "ILOU0V1Y5AE":
        assert confusing not in ALPHABET
    codes = {new_code() for _ in range(2_000)}
    assert all(len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert len(codes) > 1_900  # random, not a sequence
    assert normalize(" qx-br-ks ") == "QXBRKS"
    assert normalize("QXBR") is None  # the old four letters: too easy to walk
    assert normalize("QXBRK") is None and normalize("QXBRKO") is None and normalize("QXBRK1") is None


def test_filter_masks_or_refuses_with_the_package_list() -> None:
    assert is_rude("what the fuck") and not is_rude("fires on the word scunthorpe-free cats")
    assert clean("this shit neuron", FilterMode.MASK) == "this **** neuron"
    assert clean("this shit neuron", FilterMode.OFF) == "this shit neuron"
    assert clean("a clean one", FilterMode.REJECT) == "a clean one"
    with pytest.raises(RoomError) as err:
        clean("this shit neuron", FilterMode.REJECT)
    assert err.value.code == "profanity"


def test_entry_cap_lock_private_and_bans() -> None:
    s = state(player_cap=2)
    members = {1: "host", 2: "a"}
    assert s.admit(3, "sid3", members, by_code=True) is Role.PLAYER
    members[3] = "b"
    assert s.admit(4, "sid4", members, by_code=True) is Role.AUDIENCE  # two players: full
    assert s.admit(1, None, members, by_code=False) is Role.HOST  # the host never counts
    s.locked, s.player_cap = True, 10
    assert s.admit(5, None, members, by_code=True) is Role.AUDIENCE
    assert s.admit(2, None, members, by_code=True) is Role.PLAYER  # a member keeps the seat
    s.locked, s.private = False, True
    with pytest.raises(RoomError) as err:
        s.admit(6, None, members, by_code=False)
    assert err.value.code == "private_room"
    s.sessions[3] = "sid3"
    s.ban(3)
    for pid, sid in ((3, None), (99, "sid3")):  # by player (account), and a new guest, same session
        with pytest.raises(RoomError) as err:
            s.admit(pid, sid, {}, by_code=True)
        assert err.value.code == "banned"
    with pytest.raises(RoomError):
        s.ban(1)


def test_only_the_host_commands_and_moderators_moderate() -> None:
    s = state(moderators=[2])
    s.require_host(1)
    s.require_moderator(1)
    s.require_moderator(2)
    for pid, check, code in ((2, s.require_host, "not_host"), (3, s.require_moderator, "not_moderator")):
        with pytest.raises(RoomError) as err:
            check(pid)
        assert err.value.code == code


def test_pause_freezes_the_clock_and_resume_gives_it_back() -> None:
    s = state()
    room = RoomState(room_id="s-1", held=True)
    room.members = {1: "host"}
    with pytest.raises(RoomError):
        s.pause(room, 0.0)
    s.start(room, 100.0)
    assert not room.held and room.deadline == 100.0  # a lobby starts at once
    room.phase, room.deadline = Phase.ROUND, 160.0
    s.pause(room, 130.0)
    assert room.held and room.deadline is None and s.paused_left == 30.0
    assert s.extend(room, 15.0) == 45.0
    with pytest.raises(RoomError):
        s.skip(room, 131.0)
    s.resume(room, 500.0)
    assert not room.held and room.deadline == 545.0 and not s.paused
    assert s.extend(room, 5.0) == 550.0
    s.skip(room, 501.0)
    assert room.deadline == 501.0


def test_state_round_trips_through_json() -> None:
    s = state(moderators=[2], sessions={3: "x"}, pending={7: {"explanation": {"id": 7}, "round": 1}})
    assert StreamerState.from_json(s.to_json()) == s
    public = s.public(5)
    assert "code" not in public and public["audience"] == 5
    assert s.for_staff()["code"] == "QXBR"
    s.show_code = True
    assert s.public()["code"] == "QXBR"
