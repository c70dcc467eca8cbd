"""Fixtures: the same store behaviours run on SQLite and (marked ``postgres``) PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.state import ReleaseRecord, StateStore


def sqlalchemy_url(libpq_url: str) -> str:
    """``postgresql://...`` (libpq) as an SQLAlchemy URL with the psycopg 3 driver."""
    scheme, _, rest = libpq_url.partition("://")
    assert scheme in {"postgresql", "postgres"}, libpq_url
    return f"postgresql+psycopg://{rest}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return sqlalchemy_url(request.getfixturevalue("postgres_db"))


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    with StateStore(state_url) as opened:
        yield opened


def release(rid: str = "abc123def456", **overrides: object) -> ReleaseRecord:
    fields: dict[str, object] = {
        "id": rid,
        "digest": rid + "0" * (64 - len(rid)),
        "commit": "c0ffee",
        "author": "ada",
        "message": "first",
    }
    fields.update(overrides)
    return ReleaseRecord(**fields)  # type: ignore[arg-type]
