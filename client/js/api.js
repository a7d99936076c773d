// HTTP JSON helpers for /api/v1 (competition, reference). The session token from the socket's
// `welcome` authenticates "my" views; errors come back as {error, message} and are thrown as
// ApiError so each view can show them inline.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = localStorage.getItem("nq.token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "offline", "the server cannot be reached");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error || "http", data.message || `HTTP ${response.status}`);
  return data;
}

export const api = {
  get: (path) => call("GET", `/api/v1${path}`),
  post: (path, body = {}) => call("POST", `/api/v1${path}`, body),
};
