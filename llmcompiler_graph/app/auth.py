"""API keys and per-user threads for the served graph (`deploy/langgraph.json`).

The LangGraph API server (`langhost serve`) loads `auth` below for every request to its API:

- `authenticate` turns the request's key (`Authorization: Bearer <key>` or `x-api-key: <key>`)
  into a user name, its identity. Keys come from `LLMCOMPILER_API_KEYS` (`user:key,user:key`)
  and/or the file named by `LLMCOMPILER_API_KEYS_FILE` (one `user:key` a line, `#` comments).
  They are read once, when the server starts. No keys configured refuses every request: a
  server started without them is closed, never open by accident.
- The authorization handlers give what a user creates (threads, runs, assistants, crons) the
  metadata `owner: <identity>`, and return the filter `{"owner": <identity>}` for everything
  else, which the server applies to every read, search, update, delete, run and stream: another
  user's thread is "not found". The assistants the server makes from the graphs (metadata
  `created_by: system`, no owner) can be read, searched and run by every user, changed by none.
- The store is per user: a namespace's first label is its owner's name.
- Anything else the server might ask about is refused (a default deny).

See docs/security.md.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph_sdk import Auth
from langgraph_sdk.auth import is_studio_user
from starlette.authentication import BaseUser

logger = logging.getLogger(__name__)

KEYS_VARIABLE = "LLMCOMPILER_API_KEYS"
KEYS_FILE_VARIABLE = "LLMCOMPILER_API_KEYS_FILE"
OWNER = "owner"
"""The metadata key naming who created a thread, run, assistant or cron."""
SYSTEM: dict[str, str] = {"created_by": "system"}
"""The metadata langgraph-api gives the assistants it creates from the config's graphs."""
MIN_KEY_LENGTH = 16
USER_NAME = re.compile(r"[A-Za-z0-9_@+-]{1,64}")
"""User names: no `.` (the store's namespace labels cannot hold one), no `:` or `,` (the
separators), no spaces."""
SEND = "send `Authorization: Bearer <key>` or `x-api-key: <key>`"


class KeyConfigError(ValueError):
    """The configured keys cannot be used; the message says which entry and why."""


class ApiUser(dict[str, Any], BaseUser):
    """The authenticated user, a plain dict as well as a starlette `BaseUser`.

    The server puts the user into each run's config (`langgraph_auth_user`), and
    langgraph-runtime-pg stores that config with the standard `json` module: the `ProxyUser` it
    wraps any other user in (a name, a dict) is not JSON-serializable and every run fails with
    500. A `BaseUser` is kept as it is, and a dict serializes; the worker reads it back as a
    user with the same identity."""

    @classmethod
    def named(cls, name: str) -> ApiUser:
        return cls(identity=name, display_name=name, is_authenticated=True, permissions=[])

    @property
    def identity(self) -> str:
        return str(self["identity"])

    @property
    def display_name(self) -> str:
        return str(self["display_name"])

    @property
    def is_authenticated(self) -> bool:
        return True


@dataclass(frozen=True)
class ApiKey:
    user: str
    key: bytes


def parse_keys(text: str, source: str, *, lines: bool) -> list[ApiKey]:
    """`user:key` entries from `text`: comma-separated (the variable) or one a line, with `#`
    comments and blank lines (the file). `source` names where they came from, for errors."""
    entries = text.splitlines() if lines else text.split(",")
    keys = []
    for number, entry in enumerate(entries, 1):
        if lines:
            entry = entry.split("#", 1)[0]
        entry = entry.strip()
        if not entry:
            continue
        where = f"{source}, {'line' if lines else 'entry'} {number}"
        user, colon, key = entry.partition(":")
        user, key = user.strip(), key.strip()
        if not colon or not user or not key:
            raise KeyConfigError(f"{where}: expected `user:key`")
        if not USER_NAME.fullmatch(user):
            raise KeyConfigError(
                f"{where}: user name {user!r}: use letters, digits, _ @ + - (at most 64)"
            )
        if len(key) < MIN_KEY_LENGTH:
            raise KeyConfigError(
                f"{where}: the key of {user!r} is shorter than {MIN_KEY_LENGTH} characters "
                "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        keys.append(ApiKey(user, key.encode()))
    return keys


def load_keys(environ: Mapping[str, str] = os.environ) -> list[ApiKey]:
    """The keys of `LLMCOMPILER_API_KEYS` and of the file `LLMCOMPILER_API_KEYS_FILE`, both
    optional. One key belongs to one user; a user may have several (to rotate them)."""
    keys: list[ApiKey] = []
    if text := environ.get(KEYS_VARIABLE, "").strip():
        keys += parse_keys(text, KEYS_VARIABLE, lines=False)
    if path := environ.get(KEYS_FILE_VARIABLE, "").strip():
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise KeyConfigError(f"{KEYS_FILE_VARIABLE}={path}: {error.strerror}") from None
        keys += parse_keys(text, f"{KEYS_FILE_VARIABLE} ({path})", lines=True)
    owners: dict[bytes, str] = {}
    for entry in keys:
        if owners.setdefault(entry.key, entry.user) != entry.user:
            raise KeyConfigError(
                f"one key is given to both {owners[entry.key]!r} and {entry.user!r}"
            )
    return keys


def user_of(key: str, keys: list[ApiKey]) -> str | None:
    """The user whose key is `key`, else None. Every configured key is compared, each with
    `hmac.compare_digest`, so the time taken does not tell which keys come close."""
    given = key.encode()
    found = None
    for entry in keys:
        if hmac.compare_digest(given, entry.key):
            found = entry.user
    return found


def presented_key(headers: Mapping[bytes, bytes]) -> str | None:
    """The key the request presents: the `Authorization: Bearer` token, else `x-api-key`."""
    authorization = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


KEYS = load_keys()
"""Read when the server imports this module: a key that cannot be used stops the server."""
if not KEYS:
    logger.warning(
        "No API keys: every request is refused. Set %s (user:key,...) or %s.",
        KEYS_VARIABLE,
        KEYS_FILE_VARIABLE,
    )

auth = Auth()


def _refuse(status: int, detail: str) -> Auth.exceptions.HTTPException:
    return Auth.exceptions.HTTPException(status_code=status, detail=detail)


@auth.authenticate
async def authenticate(headers: dict[bytes, bytes]) -> ApiUser:
    """The user whose key the request carries (`headers` rather than `request`: it works for
    WebSocket connections too). 401 with what to send when there is none or it is unknown."""
    if not KEYS:
        raise _refuse(
            401,
            f"This server has no API keys configured, so it refuses every request: set "
            f"{KEYS_VARIABLE}=user:key[,user:key...] or {KEYS_FILE_VARIABLE}=<file> and "
            "restart it.",
        )
    key = presented_key(headers)
    if key is None:
        raise _refuse(401, f"An API key is required: {SEND}.")
    user = user_of(key, KEYS)
    if user is None:
        raise _refuse(401, f"Unknown API key: {SEND} with a key this server knows.")
    return ApiUser.named(user)


def _identity(ctx: Auth.types.AuthContext) -> str:
    """The request's user; a Studio user (which a server with Studio auth on would let in
    without a key; deploy/langgraph.json turns it off) or an empty identity is refused."""
    identity = getattr(ctx.user, "identity", "")
    if is_studio_user(ctx.user) or not identity:
        raise _refuse(403, f"Forbidden: {SEND}.")
    return identity


def _stamp(metadata: Any, identity: str) -> None:
    """Make `identity` the owner in `metadata`, in place: the server stores the very dict its
    handlers were given, so a client cannot name another owner."""
    if isinstance(metadata, dict):
        metadata[OWNER] = identity


def _owned(identity: str) -> Auth.types.FilterType:
    return {OWNER: identity}


def _no_system_metadata(metadata: Any) -> None:
    if isinstance(metadata, dict) and "created_by" in metadata:
        raise _refuse(403, "metadata.created_by is reserved for the server's own assistants.")


@auth.on.threads
async def on_threads(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Threads and their runs (`create_run`; reading, joining, cancelling, listing and deleting
    runs come here as thread reads and deletes). New ones are the user's; the rest are
    filtered to the user's own (the returned filter is also checked against an existing thread
    when one is created, or run on, by id)."""
    identity = _identity(ctx)
    if ctx.action in ("create", "create_run"):
        _stamp(value.get("metadata"), identity)
    elif ctx.action == "update" and value.get("metadata"):
        _stamp(value["metadata"], identity)  # a metadata update cannot hand the thread over
    return _owned(identity)


@auth.on.assistants
async def on_assistants(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """A user's own assistants, plus the server's (`created_by: system`, made from the graphs
    in the config) to read, search and run; only their own to change or delete."""
    identity = _identity(ctx)
    if ctx.action in ("create", "update"):
        _no_system_metadata(value.get("metadata"))
        if ctx.action == "create" or value.get("metadata"):
            _stamp(value.get("metadata"), identity)
    if ctx.action in ("read", "search"):
        return {"$or": [_owned(identity), SYSTEM]}
    return _owned(identity)


@auth.on.crons
async def on_crons(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Crons: created with metadata (the cron's own metadata is the payload's, and only a
    non-empty dict reaches the handler by reference), which gets the owner, as do the runs
    it starts; read, searched and deleted by their owner. Updating is refused: this server
    version does not show the handler the metadata an update writes."""
    identity = _identity(ctx)
    if ctx.action == "create":
        metadata = value.get("payload", {}).get("metadata")
        if not isinstance(metadata, dict) or not metadata:
            raise _refuse(
                422,
                'Give the cron some metadata (e.g. {"name": "daily"}): it is marked with its '
                "owner there.",
            )
        _stamp(metadata, identity)
    elif ctx.action == "update":
        raise _refuse(403, "Crons cannot be updated on this server: delete it and create it again.")
    return _owned(identity)


@auth.on.store
async def on_store(ctx: Auth.types.AuthContext, value: Any) -> None:
    """The store, per user: a namespace starts with its owner's name. Searching or listing
    without a prefix lists the user's own namespaces."""
    identity = _identity(ctx)
    namespace = tuple(value.get("namespace") or ())
    if not namespace and ctx.action in ("search", "list_namespaces"):
        value["namespace"] = (identity,)
        return
    if namespace[:1] != (identity,):
        raise _refuse(403, f"Store namespaces start with your user name: ({identity!r}, ...).")


@auth.on
async def deny_everything_else(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """A resource or action the handlers above do not know (a newer server's) is refused."""
    return False
