"""The Customer 360 API: Strawberry GraphQL on Starlette, reading published snapshots.

``app`` wires everything; ``snapshot`` holds the published gold tables;
``store`` is the state database (statuses, actions, idempotency, link
decisions, outbox, audit, API key hashes); ``operations`` is every change a
caller can make; ``overlay`` shows the store's statuses over the snapshot;
``writeback`` sends executed actions to Salesforce; ``view`` and ``rest``
are the GraphQL and REST endpoints; ``schema/`` is the GraphQL schema, one
module per domain.  See docs/api.md.
"""
