"""Scratch databases for the benchmarks: each works in a database of its own on the server DATABASE_URL names."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def with_database(url: str, name: str) -> str:
    """The URL with its database replaced by `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def server_execute(server_url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE / DROP DATABASE), in the server's `postgres` database: the
    database the URL names need not exist yet."""
    import psycopg

    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as connection:
        connection.execute(statement)
