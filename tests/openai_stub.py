"""A small local HTTP server that answers in the OpenAI API's shapes, for the real ``openai`` client.

It serves ``/v1/completions`` (with ``echo`` and ``logprobs``/top_logprobs, prompts
as a string or a list) and ``/v1/chat/completions`` on loopback, port 0. Its answers
follow a simple deterministic rule instead of a model: a token "fires" (10) when its
word occurs in the explanation, or when it is a number and the explanation speaks of
numbers or digits; otherwise 0. With ``logprobs=False`` the Completions endpoint
refuses echo+logprobs like a chat-only server does, so the fallback is exercised;
with ``completions=False`` it is missing altogether. Explainer prompts (ending in
"the main thing this neuron does is find") are answered with phrases naming the most
active token of the last neuron shown.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_EXPLANATION = re.compile(r"the main thing this neuron does is find (.*)\n")
_TOKENS = re.compile(r"\n|\t|[^\S\t\n]*[^\s]+|[^\S\t\n]+")


def fires(token: str, explanation: str) -> bool:
    word = token.strip().lower()
    words = set(re.findall(r"[a-z0-9]+", explanation.lower()))
    if word.isdigit() and ({"number", "numbers", "digit", "digits"} & words):
        return True
    return len(word) >= 3 and word in words


def _slot_distribution(high: bool) -> dict[str, float]:
    probs = {"10": 0.9, "9": 0.05, "0": 0.03, "1": 0.02} if high else {"0": 0.9, "1": 0.06, "10": 0.04}
    return {k: math.log(v) for k, v in probs.items()}


def echo_logprobs(prompt: str, top: int) -> dict[str, Any]:
    """The prompt cut into tokens, with top log-probabilities at every position after the first."""
    found = _EXPLANATION.findall(prompt)
    explanation = found[-1] if found else ""
    tokens, offsets, top_logprobs, token_logprobs = [], [], [], []
    line_start = 0
    for match in _TOKENS.finditer(prompt):
        text, start = match.group(), match.start()
        tokens.append(text)
        offsets.append(start)
        if not top_logprobs:
            top_logprobs.append(None)
            token_logprobs.append(None)
        elif start > 0 and prompt[start - 1] == "\t":
            line_token = prompt[line_start : start - 1]
            dist = _slot_distribution(fires(line_token, explanation))
            top_logprobs.append(dict(list(dist.items())[:top]))
            token_logprobs.append(-5.0)
        else:
            top_logprobs.append({text: -0.1})
            token_logprobs.append(-0.1)
        if text == "\n":
            line_start = match.end()
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top_logprobs,
        "text_offset": offsets,
    }


def chat_answer(messages: list[dict[str, Any]]) -> str:
    user = str(messages[-1]["content"])
    explanation = re.findall(r"Explanation: (.*)\n", user)[-1]
    body = user.rsplit("<start>\n", 1)[1].split("\n<end>", 1)[0]
    lines = [f"{t}\t{10 if fires(t, explanation) else 0}" for t in body.split("\n")]
    return "<start>\n" + "\n".join(lines) + "\n<end>"


EXPLAINER_LEAD = "the main thing this neuron does is find"


def top_token(prompt: str) -> str:
    """The most active token of the last neuron listed in an explainer prompt."""
    section = prompt.rsplit("Neuron ", 1)[-1]
    best, best_value = "", -1
    for line in section.split("\n"):
        token, tab, value = line.rpartition("\t")
        if tab and value.isdigit() and int(value) > best_value:
            best, best_value = token.strip(), int(value)
    return best


def explanations(prompt: str, n: int) -> list[str]:
    """n different phrases naming the most active token, the way a helpful model might."""
    word = top_token(prompt)
    phrases = [f' the word "{word}".', f" occurrences of {word}", f" tokens like {word} in text"]
    return [phrases[i % len(phrases)] + (f" ({i})" if i >= len(phrases) else "") for i in range(n)]


class OpenAIStub:
    def __init__(self, *, logprobs: bool = True, completions: bool = True, model: str = "stub-model") -> None:
        self.logprobs = logprobs
        # False: no Completions endpoint at all (404), like a chat-only server.
        self.has_completions = completions
        self.model = model
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.chat_explanations = 0  # so that successive chat answers differ, like sampled ones
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._reply(200, {"object": "list", "data": [{"id": stub.model, "object": "model"}]})
                else:
                    self._reply(404, _error("not found", "not_found_error"))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stub.requests.append((self.path, body))
                if self.path.endswith("/chat/completions"):
                    self._reply(200, stub.chat(body))
                elif self.path.endswith("/completions") and stub.has_completions:
                    status, reply = stub.completions(body)
                    self._reply(status, reply)
                else:
                    self._reply(404, _error("not found", "not_found_error"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> OpenAIStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def completions(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("echo") and body.get("logprobs") is not None and not self.logprobs:
            return 400, _error("echo and logprobs are not supported by this server", "invalid_request_error")
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        if not body.get("echo") and str(prompts[0]).endswith(EXPLAINER_LEAD):
            texts = explanations(prompts[0], int(body.get("n") or 1))
            choices = [
                {"text": t, "index": i, "logprobs": None, "finish_reason": "stop"}
                for i, t in enumerate(texts)
            ]
            return 200, {"id": "cmpl-x", "object": "text_completion", "created": int(time.time()),
                         "model": body.get("model", self.model), "choices": choices}  # fmt: skip
        choices = []
        for i, prompt in enumerate(prompts):
            logprobs = (
                echo_logprobs(prompt, int(body["logprobs"])) if body.get("logprobs") is not None else None
            )
            text = (prompt if body.get("echo") else "") + "0"
            choices.append({"text": text, "index": i, "logprobs": logprobs, "finish_reason": "length"})
        return 200, {
            "id": f"cmpl-{len(self.requests)}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": choices,
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        user = str(body["messages"][-1]["content"])
        if EXPLAINER_LEAD in user:
            # Chat models tend to repeat the lead-in; the explainer must cope.
            self.chat_explanations += 1
            content = EXPLAINER_LEAD + explanations(user, self.chat_explanations)[-1]
        else:
            content = chat_answer(body["messages"])
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}
