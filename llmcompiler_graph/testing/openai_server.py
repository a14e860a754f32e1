"""A loopback OpenAI-compatible Chat Completions server, for offline demos and tests.

The real ``langchain_openai.ChatOpenAI(base_url=sim.base_url, api_key="sim")`` (or ``openai``
client) talks to it unchanged: streaming and not, tools, structured output, usage, retries::

    with OpenAISimulator(script=["Hello!", ChatResponse.call("search", query="x")]) as sim:
        model = ChatOpenAI(model="gpt-4o-mini", base_url=sim.base_url, api_key="sim")

Endpoints: ``POST /v1/chat/completions`` and ``GET /v1/models``. Any non-empty API key is
accepted; ``n`` > 1 is not supported (one choice per answer).

The answer comes from a *script* (see :mod:`llmcompiler_graph.testing.script`) and is timed by a
:class:`~llmcompiler_graph.testing.latency.LatencyModel`: the first token (and the first chunk of
a stream) arrives ``ttft_base + ttft_per_prompt_token * prompt_tokens`` seconds after the
request, then the text is decoded at ``tokens_per_second``; a non-streamed answer is sent whole
once decoding would have finished. Tokens are ``ceil(chars / 4)``: for the prompt over the JSON
text of ``messages`` (+ ``tools``), for the completion over the content plus each tool call's
JSON arguments.

Streams are shaped like the real API's: a role chunk (``{"role": "assistant", "content": ""}``),
content deltas, then per tool call a header delta (``index``, ``id``, ``type``, ``function.name``,
empty ``arguments``) and argument deltas (``index`` and a piece of ``function.arguments``), a
chunk with the ``finish_reason`` and an empty delta, a usage chunk (``choices: []``) when
``stream_options.include_usage`` is set, and ``data: [DONE]``.

Faults (:meth:`~OpenAISimulator.fail_next`, :meth:`~OpenAISimulator.cut_next_stream`,
:meth:`~OpenAISimulator.slow_next`) apply to the next requests in arrival order. Run it alone
with ``python -m llmcompiler_graph.testing.openai_server --port 0`` (it echoes).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from llmcompiler_graph.core.roles import PROTOCOL_HEADER, ROLE_HEADER
from llmcompiler_graph.testing.latency import LatencyModel, PrefixCache, estimate_tokens
from llmcompiler_graph.testing.loopback import (
    HOST,
    KEEP_REQUESTS,
    Exchange,
    LoopbackServer,
    wait_for_interrupt,
)
from llmcompiler_graph.testing.script import (
    ChatRequest,
    ChatResponse,
    Script,
    ScriptFn,
    as_response,
    as_script,
)

log = logging.getLogger(__name__)

_ERROR_STYLES: dict[int, tuple[str, str | None, str]] = {
    # status: (type, code, default message) as the real API words them
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", None, "You didn't provide an API key."),
    404: ("invalid_request_error", None, "Unknown request URL."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests (simulated)."),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
}


@dataclass
class ChatLogEntry:
    """One request as served; the stamps are ``time.time()`` and fill in while it is served."""

    request: ChatRequest
    status: int | None = None
    """HTTP status (None until answered)."""
    prompt_tokens: int = 0
    cached_tokens: int = 0
    """Of the prompt tokens, those found in the prefix cache (`LatencyModel.cached_prefill`)."""
    completion_tokens: int = 0
    """Tokens actually sent (fewer than the answer's when the stream was cut)."""
    first_chunk_at: float | None = None
    """First SSE chunk (for a non-streamed answer: when the body was sent)."""
    last_chunk_at: float | None = None
    finished_at: float | None = None
    cut: bool = False
    """True if :meth:`OpenAISimulator.cut_next_stream` dropped this stream."""
    error: str | None = None
    """Why the script failed, if it did."""

    @property
    def received_at(self) -> float:
        """When the request arrived."""
        return self.request.received_at


class OpenAISimulator(LoopbackServer[ChatLogEntry]):
    """OpenAI-compatible Chat Completions on 127.0.0.1, answering from a script.

    ``script``: a callable ``(ChatRequest) -> ChatResponse | str``, a list of answers consumed in
    order, or None (echo the last user message). ``latency``: defaults to a hosted-model-like
    :class:`LatencyModel`; use ``LatencyModel.instant()`` in unit tests. Both attributes can be
    reassigned while the server runs; each request reads them once when it arrives. ``keep``:
    how many of the latest requests :attr:`requests` keeps (None: all).
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        latency: LatencyModel | None = None,
        models: Sequence[str] = ("gpt-4o-mini",),
        host: str = HOST,
        port: int = 0,
        keep: int | None = KEEP_REQUESTS,
    ) -> None:
        super().__init__(host=host, port=port, keep=keep)
        self.script = script  # the setter normalizes it
        self.latency = latency or LatencyModel()
        self.models = tuple(models)
        self._cuts: deque[int] = deque()
        self._slowdowns: deque[float] = deque()
        self._prefixes: PrefixCache | None = None
        self._forgotten = (0, 0)
        """Prompt and completion tokens of the requests the log no longer keeps."""

    @property
    def script(self) -> ScriptFn:
        """The answering callable (a list assigned here becomes a ResponseQueue)."""
        return self._script

    @script.setter
    def script(self, script: Script | None) -> None:
        self._script = as_script(script)

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` to ChatOpenAI / OpenAI: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    # -- faults ------------------------------------------------------------------------------

    def cut_next_stream(self, after_chars: int = 0) -> None:
        """Drop the next *streamed* answer after ``after_chars`` characters of deltas.

        The connection closes without a finish chunk or ``[DONE]``; non-streamed requests do not
        consume this fault.
        """
        with self._lock:
            self._cuts.append(after_chars)

    def slow_next(self, extra_seconds: float) -> None:
        """Delay the first token of the next answer by ``extra_seconds``."""
        with self._lock:
            self._slowdowns.append(extra_seconds)

    # -- log ---------------------------------------------------------------------------------

    def usage_totals(self) -> dict[str, int]:
        """Tokens served so far: ``prompt_tokens``, ``completion_tokens``, ``total_tokens`` (of
        every request, those the log no longer keeps included)."""
        with self._lock:
            entries, (prompt, completion) = list(self._log), self._forgotten
        prompt += sum(e.prompt_tokens for e in entries)
        completion += sum(e.completion_tokens for e in entries)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _forget(self, entry: ChatLogEntry) -> None:
        prompt, completion = self._forgotten
        self._forgotten = (prompt + entry.prompt_tokens, completion + entry.completion_tokens)

    # -- HTTP --------------------------------------------------------------------------------

    def handle(self, exchange: Exchange) -> None:
        if exchange.method == "GET" and exchange.path == "/v1/models":
            exchange.send_json(200, self._models_body())
        elif exchange.method == "POST" and exchange.path == "/v1/chat/completions":
            self._complete(exchange)
        else:
            message = f"Unknown request URL: {exchange.method} {exchange.path}."
            exchange.send_json(404, self.error_body(404, message))

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        fallback = _ERROR_STYLES[500 if status >= 500 else 400]
        kind, code, default = _ERROR_STYLES.get(status, fallback)
        return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}

    def _models_body(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "llmcompiler-graph"}
                for name in self.models
            ],
        }

    def _complete(self, exchange: Exchange) -> None:
        try:
            body = exchange.json()
        except ValueError:
            body = None
        request = ChatRequest.from_body(
            body if isinstance(body, dict) else {},
            exchange.received_at,
            role=exchange.headers.get(ROLE_HEADER),
            protocol=exchange.headers.get(PROTOCOL_HEADER),
        )
        entry = self._record(ChatLogEntry(request))

        if exchange.bearer_token() is None:
            self._refuse(exchange, entry, 401)
            return
        if not isinstance(body, dict):
            self._refuse(exchange, entry, 400, "We could not parse the JSON body of your request.")
            return
        if not request.messages:
            self._refuse(exchange, entry, 400, "'messages' must be a non-empty list.")
            return
        failure = self._take_failure()
        if failure is not None:
            self._refuse(exchange, entry, failure.status, headers=failure.headers)
            return
        try:
            response = as_response(self.script(request))
        except Exception as exc:
            log.exception("OpenAISimulator script failed")
            entry.error = f"{type(exc).__name__}: {exc}"
            # A script bug is deterministic: tell the client not to retry it.
            message = f"Simulator script failed: {entry.error}"
            self._refuse(exchange, entry, 500, message, {"x-should-retry": "false"})
            return

        latency = self.latency
        prompt = (json.dumps(request.tools) if request.tools else "") + json.dumps(request.messages)
        entry.prompt_tokens = estimate_tokens(prompt)
        with self._lock:
            extra = self._slowdowns.popleft() if self._slowdowns else 0.0
            cut = self._cuts.popleft() if request.stream and self._cuts else None
            if latency.caches:
                if self._prefixes is None:
                    self._prefixes = PrefixCache(latency)
                entry.cached_tokens = self._prefixes.cached_tokens(prompt)
        ttft = latency.ttft(entry.prompt_tokens, entry.cached_tokens)
        first_token = exchange.received_monotonic + ttft + extra
        if request.stream:
            self._stream(exchange, entry, response, latency, first_token, cut)
        else:
            self._answer(exchange, entry, response, latency, first_token)

    def _refuse(
        self,
        exchange: Exchange,
        entry: ChatLogEntry,
        status: int,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        entry.status, entry.finished_at = status, time.time()
        exchange.send_json(status, self.error_body(status, message), headers)

    def _answer(
        self,
        exchange: Exchange,
        entry: ChatLogEntry,
        response: ChatResponse,
        latency: LatencyModel,
        first_token: float,
    ) -> None:
        text = response.completion_text
        if not self._sleep_until(first_token + latency.decode_seconds(len(text))):
            exchange.abort()
            return
        entry.completion_tokens = estimate_tokens(text)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": response.content or (None if response.tool_calls else ""),
            "refusal": None,
        }
        if response.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for call in response.tool_calls
            ]
        body = {
            **_envelope(entry, "chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": response.effective_finish_reason,
                }
            ],
            "usage": _usage(entry),
        }
        entry.status = 200
        entry.first_chunk_at = entry.last_chunk_at = entry.finished_at = time.time()
        exchange.send_json(200, body)

    def _stream(
        self,
        exchange: Exchange,
        entry: ChatLogEntry,
        response: ChatResponse,
        latency: LatencyModel,
        first_token: float,
        cut: int | None,
    ) -> None:
        envelope = _envelope(entry, "chat.completion.chunk")
        if entry.request.include_usage:
            envelope["usage"] = None  # the real API sends it on every chunk, null until the end

        def send(payload: dict[str, Any]) -> None:
            entry.last_chunk_at = time.time()
            entry.first_chunk_at = entry.first_chunk_at or entry.last_chunk_at
            exchange.write(b"data: " + json.dumps(payload).encode() + b"\n\n")

        def send_delta(delta: dict[str, Any], finish_reason: str | None = None) -> None:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            send({**envelope, "choices": [choice]})

        entry.status = 200
        exchange.start_stream("text/event-stream", {"Cache-Control": "no-cache"})
        role = {"role": "assistant", "content": "", "refusal": None}
        sent = 0
        try:
            for delta, chars in [(role, 0), *_deltas(response, latency.chunk_chars, limit=cut)]:
                if not self._sleep_until(first_token + latency.decode_seconds(sent)):
                    break  # stopping
                send_delta(delta)
                sent += chars
        finally:  # also when the client hangs up: what was sent still counts
            entry.completion_tokens = estimate_tokens(response.completion_text[:sent])
            entry.finished_at = time.time()
        entry.cut = cut is not None
        # The finish chunk leaves once the last delta's tokens are decoded.
        if not entry.cut and self._sleep_until(first_token + latency.decode_seconds(sent)):
            send_delta({}, response.effective_finish_reason)
            if entry.request.include_usage:
                send({**envelope, "choices": [], "usage": _usage(entry)})
            entry.finished_at = time.time()
            exchange.write(b"data: [DONE]\n\n")
            exchange.end_stream()
        else:  # an injected cut, or the server is stopping
            entry.finished_at = time.time()
            exchange.abort()


def _envelope(entry: ChatLogEntry, kind: str) -> dict[str, Any]:
    """The fields every completion object / chunk carries."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": kind,
        "created": int(entry.received_at),
        "model": entry.request.model,
        "system_fingerprint": None,
    }


def _usage(entry: ChatLogEntry) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "total_tokens": entry.prompt_tokens + entry.completion_tokens,
    }
    if entry.cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": entry.cached_tokens}
    return usage


def _deltas(
    response: ChatResponse, chunk_chars: int, limit: int | None
) -> Iterator[tuple[dict[str, Any], int]]:
    """The stream's deltas with how many completion characters each carries.

    ``limit`` stops the stream after that many characters (for a cut stream).
    """
    budget = math.inf if limit is None else limit

    def pieces(text: str) -> Iterator[str]:
        nonlocal budget
        if budget < len(text):
            text = text[: max(int(budget), 0)]
        budget -= len(text)
        for start in range(0, len(text), chunk_chars):
            yield text[start : start + chunk_chars]

    for piece in pieces(response.content):
        yield {"content": piece}, len(piece)
    for index, call in enumerate(response.tool_calls):
        if budget <= 0:
            return
        function = {"name": call.name, "arguments": ""}
        header = {"index": index, "id": call.id, "type": "function", "function": function}
        yield {"tool_calls": [header]}, 0
        for piece in pieces(call.arguments_json):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, len(piece)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the echo script until interrupted, printing the base URL first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--instant", action="store_true", help="answer with no simulated latency")
    args = parser.parse_args(argv)
    latency = LatencyModel.instant() if args.instant else None
    with OpenAISimulator(latency=latency, port=args.port) as simulator:
        print(simulator.base_url, flush=True)
        wait_for_interrupt()


if __name__ == "__main__":
    main()
