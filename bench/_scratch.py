"""Scratch databases for the benchmarks: each works in a database of its own on the server DATABASE_URL names."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def with_database(url: str, name: str) -> str:
    """The URL with its database replaced by `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def server_execute(server_url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE / DROP DATABASE)."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(statement)
