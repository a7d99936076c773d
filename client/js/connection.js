// The one websocket client of every page (game, host console, overlay): keeps the session token
// and the last room version, reconnects by itself with exponential backoff and jitter, and
// resumes with ?since=V&room=R so the server replays exactly what was missed (or sends a resync
// snapshot). The token goes in Sec-WebSocket-Protocol, never in the URL (URLs end up in logs).
// The wire constants it uses are in protocol.js.
import { FATAL_CLOSES, PROTOCOL } from "./protocol.js";

const BASE_DELAY_MS = 400;
const MAX_DELAY_MS = 8000;

// Messages that are safe to send again after a reconnect; a submit or a vote is never
// queued (it could land twice or in the next round), the player repeats it knowingly.
const SAFE_TO_QUEUE = new Set(["join", "join_code", "rename", "resync"]);

export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2)); // "equal jitter"
}

export class Connection {
  // onEvent(event); onStatus(status, detail): "connecting" | "reconnecting" | "online" |
  // "offline" (detail: ms until the next try) | "closed". rejoin: false for a page that enters
  // its room by its own message after every welcome (the overlay's ``watch``), so that a
  // reconnect never enters it another way.
  constructor({ onEvent, onStatus, rejoin = true }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.rejoin = rejoin;
    this.token = localStorage.getItem("nq.token");
    this.room = null;
    this.v = null;
    this.attempt = 0;
    this.pending = [];
    this.ws = null;
    this.stopped = false;
  }

  // The token travels in Sec-WebSocket-Protocol, never in the URL (URLs end up in logs).
  subprotocols() {
    return this.token ? ["nq.v1", `nq.token.${this.token}`] : ["nq.v1"];
  }

  url() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ format: "json", protocol: String(PROTOCOL.PROTOCOL_VERSION) });
    if (this.rejoin && this.token && this.room && this.v !== null) {
      params.set("since", String(this.v));
      params.set("room", this.room);
    }
    return `${proto}://${location.host}/ws?${params}`;
  }

  get online() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  open() {
    this.onStatus(this.attempt ? "reconnecting" : "connecting", this.attempt);
    const ws = new WebSocket(this.url(), this.subprotocols());
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onStatus("online", 0);
      for (const msg of this.pending.splice(0)) this.send(msg);
    };
    ws.onmessage = (frame) => {
      let event;
      try {
        event = JSON.parse(frame.data);
      } catch {
        return;
      }
      if (typeof event.v === "number") this.v = event.v;
      if (event.type === "welcome") {
        this.token = event.token;
        localStorage.setItem("nq.token", event.token);
      }
      if (event.type === "room") this.room = event.room;
      if (event.type === "ping") this.send({ type: "pong", t: event.t });
      this.onEvent(event);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === PROTOCOL.CLOSE_BAD_TOKEN) {
        localStorage.removeItem("nq.token");
        this.token = null;
        this.v = null;
      }
      if (this.stopped || e.code === PROTOCOL.CLOSE_UNSUPPORTED_VERSION) {
        this.onStatus("closed", e.code);
        return;
      }
      const delay = FATAL_CLOSES.has(e.code) ? 0 : backoffDelay(this.attempt);
      this.attempt += 1;
      this.onStatus("offline", delay);
      setTimeout(() => this.open(), delay);
    };
  }

  // True when the message went out now; false when it could not (offline).
  send(message) {
    if (this.online) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    if (SAFE_TO_QUEUE.has(message.type)) {
      this.pending = this.pending.filter((m) => m.type !== message.type);
      this.pending.push(message);
    }
    return false;
  }

  join(room) {
    this.room = room;
    this.v = null;
    return this.send({ type: "join", room });
  }

  // A streamer room's code (from its host); the room id arrives with the `room` snapshot.
  joinCode(code) {
    this.room = null;
    this.v = null;
    return this.send({ type: "join_code", code });
  }

  // The server took us out of the room (kicked, closed): do not rejoin it on reconnect.
  forgetRoom() {
    this.room = null;
    this.v = null;
  }

  leave() {
    this.room = null;
    this.v = null;
    return this.send({ type: "leave" });
  }
}
