// The wire protocol's shared constants: a copy of server/wire/protocol.py's and of the error
// table config/errors.py (tests/server/test_protocol.py keeps them equal, both ways).
export const PROTOCOL = Object.freeze({
  PROTOCOL_VERSION: 1,
  MAX_BAD_FRAMES: 5,
  CLOSE_NORMAL: 1000,
  CLOSE_GOING_AWAY: 1001,
  CLOSE_POLICY_VIOLATION: 1008,
  CLOSE_TOO_BIG: 1009,
  CLOSE_INTERNAL_ERROR: 1011,
  CLOSE_TRY_AGAIN_LATER: 1013,
  CLOSE_HEARTBEAT_TIMEOUT: 4000,
  CLOSE_BAD_TOKEN: 4001,
  CLOSE_UNSUPPORTED_VERSION: 4002,
  CLOSE_SLOW_CONSUMER: 4003,
  ERR_BAD_FRAME: "bad_frame",
  ERR_UNKNOWN_TYPE: "unknown_type",
  ERR_MISSING_FIELD: "missing_field",
  ERR_BAD_FIELD: "bad_field",
  ERR_TOO_LARGE: "too_large",
  ERR_TOO_LONG: "too_long",
  ERR_FLOOD: "flood",
  ERR_NOT_IN_ROOM: "not_in_room",
  ERR_WRONG_PHASE: "wrong_phase",
  ERR_ALREADY_SUBMITTED: "already_submitted",
  ERR_DOUBLE_VOTE: "double_vote",
  ERR_OWN_VOTE: "own_vote",
  ERR_NOT_FOUND: "not_found",
  ERR_BAD_NEURON: "bad_neuron",
  ERR_BAD_TEXT: "bad_text",
  ERR_BAD_TOKEN: "bad_token",
  ERR_UNSUPPORTED_VERSION: "unsupported_version",
  ERR_INTERNAL: "internal",
  ERR_UNAVAILABLE: "unavailable",
  // Streamer rooms (docs/protocol.md, "Streamer rooms").
  ERR_NOT_HOST: "not_host",
  ERR_NOT_MODERATOR: "not_moderator",
  ERR_BANNED: "banned",
  ERR_PRIVATE_ROOM: "private_room",
  ERR_PAUSED: "paused",
  ERR_PROFANITY: "profanity",
  ERR_AUDIENCE: "audience",
  ERR_NOT_STREAMER_ROOM: "not_streamer_room",
  // Quest and team-match rooms.
  ERR_QUEST_CLOSED: "quest_closed",
  ERR_NOT_IN_MATCH: "not_in_match",
  ERR_OTHER_TEAM: "other_team",
  ERR_FINISHED: "finished",
});

// Close codes after which reconnecting with the same token is pointless.
export const FATAL_CLOSES = new Set([PROTOCOL.CLOSE_BAD_TOKEN, PROTOCOL.CLOSE_UNSUPPORTED_VERSION]);

// A connection that keeps the token and the last room version, and reconnects with
// ?since=V (the token in Sec-WebSocket-Protocol) so the server replays what was missed.
export class Connection {
  constructor(onEvent, onStatus) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.token = localStorage.getItem("nq.token");
    this.v = null;
    this.retry = 500;
  }

  // The token travels in Sec-WebSocket-Protocol, never in the URL (URLs end up in logs).
  subprotocols() {
    return this.token ? ["nq.v1", `nq.token.${this.token}`] : ["nq.v1"];
  }

  url() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ format: "json", protocol: String(PROTOCOL.PROTOCOL_VERSION) });
    if (this.token && this.v !== null) params.set("since", String(this.v));
    return `${proto}://${location.host}/ws?${params}`;
  }

  open() {
    this.onStatus("connecting");
    const ws = new WebSocket(this.url(), this.subprotocols());
    this.ws = ws;
    ws.onopen = () => { this.retry = 500; this.onStatus("online"); };
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (typeof event.v === "number") this.v = event.v;
      if (event.type === "welcome") {
        this.token = event.token;
        localStorage.setItem("nq.token", event.token);
      }
      if (event.type === "ping") this.send({ type: "pong", t: event.t });
      this.onEvent(event);
    };
    ws.onclose = (e) => {
      if (e.code === PROTOCOL.CLOSE_BAD_TOKEN) {
        localStorage.removeItem("nq.token");
        this.token = null;
        this.v = null;
      }
      this.onStatus(`offline (${e.code})`);
      if (e.code !== PROTOCOL.CLOSE_UNSUPPORTED_VERSION) {
        setTimeout(() => this.open(), this.retry);
        this.retry = Math.min(this.retry * 2, 10000);
      }
    };
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  forgetRoom() { this.v = null; }
}
