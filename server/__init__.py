"""The Customer 360 API: Strawberry GraphQL on Starlette, reading published snapshots."""
