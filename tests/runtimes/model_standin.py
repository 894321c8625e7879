#!/usr/bin/env python3
"""A scripted stand-in for the Anthropic Messages API, the OpenAI Responses
API, OpenAI's Chat Completions API and the Gemini API, on loopback.

Agent runtimes are pointed at it (Claude Code with ANTHROPIC_BASE_URL, Codex
with a `[model_providers.*]` base_url, Gemini CLI with GOOGLE_GEMINI_BASE_URL,
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
  otherwise. Scripted actions, for requests that offer tools (Claude Code's
  main loop), when the last message (`system`-role ones aside) is the
  user's, in its text after any tool result it holds:
  a line `standin-run: COMMAND` in it is answered with a `tool_use` of the
  `Bash` tool running COMMAND, and a line `standin-write: PATH` with a
  `tool_use` of the `Write` tool writing "standin\n" to PATH (absolute);
  stop_reason "tool_use". The request carrying the tool's result gets
  REPLY_TEXT. So Claude Code, in its default permission mode, shows its
  permission prompt for a command (or a file write) it has not been allowed.
  SLOW_MARKER (below) in any user message delays the answer SLOW_SECONDS
  here too.
- POST /v1/responses (Codex, `wire_api = "responses"`) answers one finished
  turn the same way, as the Responses SSE sequence (response.created … a
  message output item with REPLY_TEXT … response.completed with usage), or the
  equivalent JSON when the request does not ask to stream. A turn whose
  latest user message contains TOOL_MARKER ("[standin:tool]") or a line
  `standin-run: COMMAND` is answered instead with one `exec_command` call
  running `true` (or COMMAND, with `sandbox_permissions:
  "require_escalated"`, so Codex under approval_policy "on-request" asks
  the user before running it); the request that carries its output gets REPLY_TEXT (so a runtime's
  after-tool hooks run for real). A conversation any of whose user messages contains
  SLOW_MARKER ("[standin:slow]") is answered SLOW_SECONDS (2 s) late, each
  time: a window in which a test can act between two of the runtime's steps
  (the request is logged before the wait).
- POST /v1beta/models/MODEL:streamGenerateContent (Gemini CLI; SSE) and
  :generateContent (JSON) answer one candidate with REPLY_TEXT, the same
  markers scripting the turn (the tool call is `list_directory` of "."),
  and a line `standin-run: COMMAND` in the latest user prompt answered with
  a `run_shell_command` call of COMMAND (Gemini CLI asks before running it,
  unless in --yolo), then REPLY_TEXT once its result comes back.
  A request asking for JSON (`responseMimeType: application/json`, Gemini
  CLI's routing classifier) gets an object with every required property of
  its `responseJsonSchema` set to a placeholder of its type.
  :countTokens answers a small count.
- POST /v1/chat/completions answers the same way in OpenAI's shape
  (chat.completion.chunk SSE ending in `data: [DONE]`, with a usage chunk,
  when "stream" is true). One scripted action: when the last message is the
  user's and a line of it holds `standin-run: COMMAND`, the answer is a call
  of the `bash` tool with that command (finish_reason "tool_calls"); the
  turn then ends with REPLY_TEXT once the tool result comes back.
  SLOW_MARKER in any user message delays the answer SLOW_SECONDS here too.
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


def anthropic_tool_use(body):
    """The scripted tool call for a Messages request, as (tool name, input),
    or None: only when the request offers tools and its last message is the
    user's, holding a `standin-run:` or `standin-write:` line after its last
    tool result (if any)."""
    body = body or {}
    if not body.get("tools"):
        return None
    # Claude Code may send `system`-role messages after the user's (mode
    # changes, reminders): the turn's last message is the last other one.
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") != "system"]
    if not messages or messages[-1].get("role") != "user":
        return None
    content = messages[-1].get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    blocks = [b for b in blocks if isinstance(b, dict)]
    # A message may carry an interrupted call's result and then the next
    # prompt: only what follows the last tool result is new.
    results = [n for n, b in enumerate(blocks) if b.get("type") == "tool_result"]
    for b in blocks[results[-1] + 1 :] if results else blocks:
        for line in str(b.get("text") or "").splitlines():
            if "standin-run:" in line:
                command = line.split("standin-run:", 1)[1].strip()
                return "Bash", {"command": command, "description": "Run a scripted command"}
            if "standin-write:" in line:
                path = line.split("standin-write:", 1)[1].strip()
                return "Write", {"file_path": path, "content": "standin\n"}
    return None


def anthropic_slow(body):
    messages = (body or {}).get("messages") or []
    return any(isinstance(m, dict) and m.get("role") == "user" and SLOW_MARKER in json.dumps(m) for m in messages)


def message(body, usage_in):
    tool = anthropic_tool_use(body)
    if tool is not None:
        block = {"type": "tool_use", "id": next_id().replace("msg_", "toolu_"), "name": tool[0], "input": tool[1]}
        content, stop = [block], "tool_use"
    else:
        content, stop = [{"type": "text", "text": REPLY}], "end_turn"
    return {
        "id": next_id(),
        "type": "message",
        "role": "assistant",
        "model": (body or {}).get("model") or MODEL_FALLBACK,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": usage_in, "output_tokens": max(1, len(REPLY) // 4)},
    }


def sse(body, usage_in):
    full = message(body, usage_in)
    start = dict(full, content=[], stop_reason=None, usage={"input_tokens": usage_in, "output_tokens": 1})
    block = full["content"][0]
    if block["type"] == "tool_use":
        opening = dict(block, input={})
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
    else:
        opening = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": REPLY}
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": opening}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
                "usage": full["usage"],
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join("event: %s\ndata: %s\n\n" % (name, json.dumps(data)) for name, data in events)


def response_obj(body, usage_in, status, output):
    return {
        "id": next_id().replace("msg_", "resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": (body or {}).get("model") or MODEL_FALLBACK,
        "output": output,
        "usage": {
            "input_tokens": usage_in,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": max(1, len(REPLY) // 4),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage_in + max(1, len(REPLY) // 4),
        },
    }


def reply_item():
    part = {"type": "output_text", "text": REPLY, "annotations": []}
    item_id = next_id().replace("msg_", "item_")
    return item_id, part, {"id": item_id, "type": "message", "role": "assistant", "status": "completed", "content": [part]}


TOOL_MARKER = "[standin:tool]"
SLOW_MARKER = "[standin:slow]"
SLOW_SECONDS = 2.0


def wants_slow(body):
    items = [i for i in (body or {}).get("input") or [] if isinstance(i, dict)]
    return any(i.get("role") == "user" and SLOW_MARKER in json.dumps(i) for i in items)


def wants_tool(body):
    """Whether the turn's latest user message asks for a tool call that has
    not run yet (no tool output follows it; a runtime may add its own
    messages, such as hook context, after the user's)."""
    items = [i for i in (body or {}).get("input") or [] if isinstance(i, dict)]
    users = [n for n, i in enumerate(items) if i.get("type") == "message" and i.get("role") == "user"]
    if not users:
        return False
    said = json.dumps(items[users[-1]])
    if TOOL_MARKER not in said and "standin-run:" not in said:
        return False
    return not any(i.get("type") == "function_call_output" for i in items[users[-1] :])


def responses_command(body):
    """The command of a `standin-run: COMMAND` line in the latest user
    message of a Responses request, else "true"."""
    items = [i for i in (body or {}).get("input") or [] if isinstance(i, dict)]
    users = [i for i in items if i.get("type") == "message" and i.get("role") == "user"]
    content = users[-1].get("content") if users else None
    for line in text_of(content).splitlines():
        if "standin-run:" in line:
            return line.split("standin-run:", 1)[1].strip()
    return "true"


def tool_call_item(command="true"):
    call_id = next_id().replace("msg_", "call_")
    args = {"cmd": command}
    if command != "true":
        # A scripted command asks to run outside the sandbox, so Codex
        # (approval_policy "on-request") asks the user first.
        args.update(sandbox_permissions="require_escalated", justification="Run a scripted command?")
    return {
        "id": call_id.replace("call_", "fc_"),
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": "exec_command",
        "arguments": json.dumps(args),
    }


def responses_sse(body, usage_in):
    if wants_tool(body):
        item = tool_call_item(responses_command(body))
        events = [
            ("response.created", {"type": "response.created", "response": response_obj(body, usage_in, "in_progress", [])}),
            (
                "response.output_item.added",
                {"type": "response.output_item.added", "output_index": 0, "item": dict(item, status="in_progress", arguments="")},
            ),
            (
                "response.function_call_arguments.done",
                {"type": "response.function_call_arguments.done", "item_id": item["id"], "output_index": 0, "arguments": item["arguments"]},
            ),
            ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
            ("response.completed", {"type": "response.completed", "response": response_obj(body, usage_in, "completed", [item])}),
        ]
        return "".join("event: %s\ndata: %s\n\n" % (name, json.dumps(data)) for name, data in events)
    item_id, part, item = reply_item()
    created = response_obj(body, usage_in, "in_progress", [])
    events = [
        ("response.created", {"type": "response.created", "response": created}),
        (
            "response.output_item.added",
            {"type": "response.output_item.added", "output_index": 0, "item": dict(item, status="in_progress", content=[])},
        ),
        (
            "response.content_part.added",
            {"type": "response.content_part.added", "item_id": item_id, "output_index": 0, "content_index": 0, "part": dict(part, text="")},
        ),
        (
            "response.output_text.delta",
            {"type": "response.output_text.delta", "item_id": item_id, "output_index": 0, "content_index": 0, "delta": REPLY},
        ),
        (
            "response.output_text.done",
            {"type": "response.output_text.done", "item_id": item_id, "output_index": 0, "content_index": 0, "text": REPLY},
        ),
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed", "response": response_obj(body, usage_in, "completed", [item])}),
    ]
    return "".join("event: %s\ndata: %s\n\n" % (name, json.dumps(data)) for name, data in events)


def gemini_user_texts(body):
    """The text of every user turn of a Gemini request."""
    return [
        json.dumps(c)
        for c in (body or {}).get("contents") or []
        if isinstance(c, dict) and c.get("role") == "user"
    ]


def gemini_wants_tool(body):
    contents = [c for c in (body or {}).get("contents") or [] if isinstance(c, dict)]
    asked = any(TOOL_MARKER in t for t in gemini_user_texts(body))
    answered = any("functionResponse" in p for c in contents for p in c.get("parts") or [] if isinstance(p, dict))
    return asked and not answered


def gemini_command(body):
    """The command of a `standin-run: COMMAND` line in the latest user
    prompt of a Gemini request, when no tool result came after it."""
    contents = [c for c in (body or {}).get("contents") or [] if isinstance(c, dict)]
    for c in reversed(contents):
        parts = [p for p in c.get("parts") or [] if isinstance(p, dict)]
        if any("functionResponse" in p for p in parts):
            return None
        if c.get("role") != "user":
            continue
        for p in parts:
            for line in str(p.get("text") or "").splitlines():
                if "standin-run:" in line:
                    return line.split("standin-run:", 1)[1].strip()
    return None


def placeholder(schema):
    """A value of the JSON schema's type, with every required property."""
    kind = str((schema or {}).get("type", "object")).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: placeholder(props.get(k) or {}) for k in schema.get("required") or props.keys()}
    return {"string": "standin", "integer": 1, "number": 1, "boolean": False, "array": []}.get(kind)


def gemini_answer(body):
    config = (body or {}).get("generationConfig") or {}
    if config.get("responseMimeType") == "application/json":
        part = {"text": json.dumps(placeholder(config.get("responseJsonSchema") or config.get("responseSchema") or {}))}
    elif gemini_command(body) is not None:
        command = gemini_command(body)
        part = {"functionCall": {"name": "run_shell_command", "args": {"command": command, "description": "Run a scripted command"}}}
    elif gemini_wants_tool(body):
        part = {"functionCall": {"name": "list_directory", "args": {"dir_path": "."}}}
    else:
        part = {"text": REPLY}
    return {
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": approx_tokens(body), "candidatesTokenCount": 1, "totalTokenCount": approx_tokens(body) + 1},
        "modelVersion": "gemini-standin",
    }


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
            if anthropic_slow(body):
                time.sleep(SLOW_SECONDS)
            if isinstance(body, dict) and body.get("stream"):
                self._send(200, sse(body, usage_in), "text/event-stream")
            else:
                self._send(200, message(body, usage_in))
        elif self.command == "POST" and path == "/v1/responses":
            usage_in = approx_tokens(body)
            if wants_slow(body):
                time.sleep(SLOW_SECONDS)
            if isinstance(body, dict) and body.get("stream"):
                self._send(200, responses_sse(body, usage_in), "text/event-stream")
            else:
                self._send(200, response_obj(body, usage_in, "completed", [reply_item()[2]]))
        elif self.command == "POST" and path.startswith("/v1beta/models/") and ":" in path:
            action = path.rsplit(":", 1)[1]
            json_mode = ((body or {}).get("generationConfig") or {}).get("responseMimeType") == "application/json"
            slow = any(SLOW_MARKER in t for t in gemini_user_texts(body))
            if action in ("streamGenerateContent", "generateContent") and slow and not json_mode:
                time.sleep(SLOW_SECONDS)
            if action == "streamGenerateContent":
                self._send(200, "data: %s\r\n\r\n" % json.dumps(gemini_answer(body)), "text/event-stream")
            elif action == "generateContent":
                self._send(200, gemini_answer(body))
            elif action == "countTokens":
                self._send(200, {"totalTokens": approx_tokens(body)})
            else:
                self._not_found()
        elif self.command == "POST" and path == "/v1/chat/completions":
            usage_in = approx_tokens(body)
            if any(isinstance(m, dict) and m.get("role") == "user" and SLOW_MARKER in text_of(m.get("content")) for m in (body or {}).get("messages") or []):
                time.sleep(SLOW_SECONDS)
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
