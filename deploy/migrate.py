"""Prepare a fresh Postgres database for the LangGraph server, once, before any worker starts.

    DATABASE_URI=postgresql://user:pass@host:5432/db python deploy/migrate.py

Each server process would otherwise do this at startup, and several starting together on a new
database race and exit (a duplicate key on `checkpoint_migrations` or `store_migrations`). Three
steps, each a no-op when already done: the runtime's schema (`langgraph-runtime-pg-migrate
upgrade`, Alembic), then the tables of the checkpointer (threads' checkpoints and pending writes)
and of the store, as `langgraph-checkpoint-postgres` creates them. Run it in the server's
environment (deploy/requirements-server.txt); then start the workers with
LG_RUNTIME_PG_AUTO_MIGRATE=false.
"""

from __future__ import annotations

import os
import sys

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.store.postgres import PostgresStore
from langgraph_runtime_pg.migrate import upgrade_head


def main() -> int:
    uri = os.environ.get("DATABASE_URI")
    if not uri:
        print("Set DATABASE_URI to the server's Postgres database.", file=sys.stderr)
        return 2
    revision = upgrade_head(uri)
    with PostgresSaver.from_conn_string(uri) as saver:
        saver.setup()
    with PostgresStore.from_conn_string(uri) as store:
        store.setup()
    print(f"schema at {revision}; checkpointer and store tables ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
