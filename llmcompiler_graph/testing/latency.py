"""How long the simulated model takes, and how tokens are counted.

Tokens are approximated as ``ceil(characters / 4)`` (no tokenizer is needed offline):

- prompt tokens: over the JSON text of the request's ``messages`` plus its ``tools`` (if any);
- completion tokens: over the answer's content plus the JSON of every tool call's arguments.

A response then takes ``ttft`` to its first token and decodes at ``tokens_per_second``; a stream
is cut into chunks of ``chunk_chars`` characters, each sent when the decoder would have produced
it. The defaults resemble a hosted gpt-4o-mini / gpt-3.5-class model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SIMULATED_MODEL = "gpt-4o-mini"
"""The model name the OpenAI simulator answers as (its latency defaults resemble it)."""

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Approximate token count of ``text``: one token per four characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class LatencyModel:
    """Time to first token grows with the prompt; decoding runs at a fixed rate."""

    ttft_base: float = 0.3
    """Seconds before the first token of any response."""
    ttft_per_prompt_token: float = 0.00005
    """Extra seconds of time to first token per prompt token (prefill)."""
    tokens_per_second: float = 90.0
    """Decode rate; ``math.inf`` decodes instantly."""
    chunk_chars: int = 4
    """Characters per streamed delta (about one token)."""

    @classmethod
    def instant(cls) -> LatencyModel:
        """No waiting at all, for fast unit tests (streams are still chunked)."""
        return cls(ttft_base=0.0, ttft_per_prompt_token=0.0, tokens_per_second=math.inf)

    def ttft(self, prompt_tokens: int) -> float:
        """Seconds from receiving the request to the first token."""
        return self.ttft_base + self.ttft_per_prompt_token * prompt_tokens

    def decode_seconds(self, chars: int) -> float:
        """Seconds the decoder needs to produce ``chars`` characters of output."""
        return chars / CHARS_PER_TOKEN / self.tokens_per_second
