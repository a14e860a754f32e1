"""How long the simulated model takes, and how tokens are counted.

Tokens are approximated as ``ceil(characters / 4)`` (no tokenizer is needed offline):

- prompt tokens: over the JSON text of the request's ``messages`` plus its ``tools`` (if any);
- completion tokens: over the answer's content plus the JSON of every tool call's arguments.

A response then takes ``ttft`` to its first token and decodes at ``tokens_per_second``; a stream
is cut into chunks of ``chunk_chars`` characters, each sent when the decoder would have produced
it. The defaults resemble a hosted gpt-4o-mini / gpt-3.5-class model.

Prefix cache (off by default): hosted models keep the prefill of prompts they have seen, and a
new prompt that starts the same way pays less for that prefix. OpenAI's rules: prompts of at
least 1,024 tokens, cached in steps of 128 tokens, counted as ``cached_tokens`` in the usage.
With ``cached_prefill`` below 1, the simulator does the same (tools first, then messages, as a
provider lays a prompt out) and a cached prompt token costs that fraction of a fresh one's
prefill.
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
    cached_prefill: float = 1.0
    """What a cached prompt token's prefill costs, as a fraction of a fresh one's (1: no prefix
    cache, the default; 0.2: a cache hit saves 80 % of that prefix's prefill)."""
    cache_min_tokens: int = 1024
    """Shorter prompts are never cached (OpenAI's threshold)."""
    cache_step_tokens: int = 128
    """A cached prefix is a multiple of this many tokens."""

    @classmethod
    def instant(cls) -> LatencyModel:
        """No waiting at all, for fast unit tests (streams are still chunked)."""
        return cls(ttft_base=0.0, ttft_per_prompt_token=0.0, tokens_per_second=math.inf)

    @property
    def caches(self) -> bool:
        """Whether prompts with a cached prefix are cheaper."""
        return self.cached_prefill < 1.0

    def ttft(self, prompt_tokens: int, cached_tokens: int = 0) -> float:
        """Seconds from receiving the request to the first token (`cached_tokens` of the prompt
        found in the prefix cache)."""
        prefill = prompt_tokens - cached_tokens * (1.0 - self.cached_prefill)
        return self.ttft_base + self.ttft_per_prompt_token * prefill

    def decode_seconds(self, chars: int) -> float:
        """Seconds the decoder needs to produce ``chars`` characters of output."""
        return chars / CHARS_PER_TOKEN / self.tokens_per_second


class PrefixCache:
    """The prompt prefixes a simulated provider has seen (the latest `size` of them), by the
    hash of each `step`-token block boundary, as OpenAI caches them."""

    def __init__(self, latency: LatencyModel, size: int = 100_000) -> None:
        self.step = latency.cache_step_tokens * CHARS_PER_TOKEN
        self.minimum = latency.cache_min_tokens * CHARS_PER_TOKEN
        self.size = size
        self._seen: dict[int, None] = {}

    def cached_tokens(self, prompt: str) -> int:
        """How many leading tokens of `prompt` were cached (0 for a prompt under the minimum);
        then remembers its prefixes."""
        if len(prompt) < self.minimum:
            return 0
        boundaries = range(self.step, len(prompt) + 1, self.step)
        hashes, chained = [], 0
        for end in boundaries:  # each boundary's key covers the whole prefix, in linear time
            chained = hash((chained, prompt[end - self.step : end]))
            hashes.append(chained)
        hit = 0
        for end, key in zip(boundaries, hashes, strict=True):
            if key not in self._seen:
                break
            hit = end
        for key in hashes:
            self._seen.pop(key, None)
            self._seen[key] = None
        while len(self._seen) > self.size:
            del self._seen[next(iter(self._seen))]
        return estimate_tokens(prompt[:hit]) if hit >= self.minimum else 0
