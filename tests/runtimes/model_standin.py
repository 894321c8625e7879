#!/usr/bin/env python3
"""A scripted stand-in for the Anthropic Messages API and OpenAI's Chat
Completions API, on loopback.

Agent runtimes are pointed at it (Claude Code with ANTHROPIC_BASE_URL,
OpenCode with an OpenAI-compatible provider's baseURL) so the integration
tests can drive the real CLI without a network or an account, and then read
exactly what the runtime sent to "the model".

Usage: model_standin.py PORT_FILE LOG_FILE [REPLY_TEXT]

- Listens on 127.0.0.1, port 0 (the kernel picks a free one, so parallel tests
  never collide), and writes the port to PORT_FILE atomically (write, then
  rename) so a reader never sees a half-written number.
- Every request is appended to LOG_FILE as one JSON line
  {"t": <time.monotonic()>, "method", "path", "body": <parsed JSON or null>}
  and flushed at once, so a test polling the file sees it immediately.
- POST /v1/messages (with or without ?beta=true) answers one finished turn
  whose only content is REPLY_TEXT (default "Done."): the standard SSE
  sequence when the request says "stream": true, the equivalent JSON
  otherwise.
- POST /v1/chat/completions answers the same way in OpenAI's shape
  (chat.completion.chunk SSE ending in `data: [DONE]`, with a usage chunk,
  when "stream" is true). One scripted action: when the last message is the
  user's and a line of it holds `standin-run: COMMAND`, the answer is a call
  of the `bash` tool with that command (finish_reason "tool_calls"); the
  turn then ends with REPLY_TEXT once the tool result comes back.
- Everything else gets a quick, well-formed answer (count_tokens, models,
  404 JSON) so the runtime never waits on us.

Python 3 standard library only.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PORT_FILE, LOG_FILE = sys.argv[1], sys.argv[2]
REPLY = sys.argv[3] if len(sys.argv) > 3 else "Done."
MODEL_FALLBACK = "claude-standin"

_log_lock = threading.Lock()
_log = open(LOG_FILE, "a", encoding="utf-8")
_ids = iter(range(1, 1 << 62))


def log(method, path, body):
    line = json.dumps({"t": time.monotonic(), "method": method, "path": path, "body": body})
    with _log_lock:
        _log.write(line + "\n")
        _log.flush()


def next_id():
    with _log_lock:
        return "msg_standin_%06d" % next(_ids)


def approx_tokens(body):
    # Roughly four characters a token: only has to be plausible.
    return max(1, len(json.dumps(body)) // 4) if body is not None else 1


def message(body, usage_in):
    return {
        "id": next_id(),
        "type": "message",
        "role": "assistant",
        "model": (body or {}).get("model") or MODEL_FALLBACK,
        "content": [{"type": "text", "text": REPLY}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": usage_in, "output_tokens": max(1, len(REPLY) // 4)},
    }


def sse(body, usage_in):
    full = message(body, usage_in)
    start = dict(full, content=[], stop_reason=None, usage={"input_tokens": usage_in, "output_tokens": 1})
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": REPLY}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": full["usage"],
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join("event: %s\ndata: %s\n\n" % (name, json.dumps(data)) for name, data in events)


def text_of(content):
    """The text of an OpenAI message's content (a string or parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def scripted_command(body):
    """The command of a `standin-run: COMMAND` line in the last message, when
    that message is the user's."""
    messages = (body or {}).get("messages") or []
    if not messages or messages[-1].get("role") != "user":
        return None
    for line in text_of(messages[-1].get("content")).splitlines():
        if "standin-run:" in line:
            return line.split("standin-run:", 1)[1].strip()
    return None


def chat_completion(body, usage_in):
    """One OpenAI chat completion: REPLY, or the scripted tool call."""
    model = (body or {}).get("model") or MODEL_FALLBACK
    command = scripted_command(body)
    if command is not None:
        call = {
            "id": "call_" + next_id(),
            "type": "function",
            "function": {"name": "bash", "arguments": json.dumps({"command": command, "description": "Run a scripted command"})},
        }
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": REPLY}, "stop"
    usage = {"prompt_tokens": usage_in, "completion_tokens": max(1, len(REPLY) // 4), "total_tokens": usage_in + 1}
    return {
        "id": "chatcmpl-" + next_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def chat_sse(body, usage_in):
    full = chat_completion(body, usage_in)
    choice = full["choices"][0]
    base = {"id": full["id"], "object": "chat.completion.chunk", "created": full["created"], "model": full["model"]}
    delta = {"role": "assistant"}
    if choice["message"].get("tool_calls"):
        delta["tool_calls"] = [dict(c, index=i) for i, c in enumerate(choice["message"]["tool_calls"])]
    else:
        delta["content"] = choice["message"]["content"]
    chunks = [
        dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": None}]),
        dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]),
        dict(base, choices=[], usage=full["usage"]),
    ]
    return "".join("data: %s\n\n" % json.dumps(c) for c in chunks) + "data: [DONE]\n\n"


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the runtime's connections alive; every answer below
    # carries a Content-Length, which 1.1 needs.
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the JSON log is the record
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"_unparsed": raw.decode("utf-8", "replace")}

    def _send(self, code, payload, ctype="application/json"):
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if ctype == "text/event-stream":
            self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _not_found(self):
        self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": "stand-in: no such endpoint: %s %s" % (self.command, self.path)}})

    def _handle(self):
        body = self._body() if self.command in ("POST", "PUT", "PATCH") else None
        log(self.command, self.path, body)
        path = urlsplit(self.path).path.rstrip("/")
        if self.command == "POST" and path == "/v1/messages":
            usage_in = approx_tokens(body)
            if isinstance(body, dict) and body.get("stream"):
                self._send(200, sse(body, usage_in), "text/event-stream")
            else:
                self._send(200, message(body, usage_in))
        elif self.command == "POST" and path == "/v1/chat/completions":
            usage_in = approx_tokens(body)
            if isinstance(body, dict) and body.get("stream"):
                self._send(200, chat_sse(body, usage_in), "text/event-stream")
            else:
                self._send(200, chat_completion(body, usage_in))
        elif self.command == "POST" and path == "/v1/messages/count_tokens":
            self._send(200, {"input_tokens": approx_tokens(body)})
        elif self.command in ("GET", "HEAD") and path == "/v1/models":
            self._send(200, {"data": [], "has_more": False, "first_id": None, "last_id": None})
        elif self.command in ("GET", "HEAD") and path == "":
            self._send(200, {"ok": True})
        else:
            self._not_found()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = PORT_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, PORT_FILE)
    server.serve_forever()


if __name__ == "__main__":
    main()
