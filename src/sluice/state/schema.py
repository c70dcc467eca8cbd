"""Tables of the state store and its own versioned schema migrations.

The schema version lives in ``schema_version`` (one row per applied migration). Migrations are
an ordered list; migration *n* brings the schema from version *n - 1* to *n*. :func:`migrate`
applies the pending ones in one transaction (serialised across processes: ``BEGIN IMMEDIATE``
on SQLite, an advisory lock on PostgreSQL) and refuses a store newer than this code.

Rules for changing the schema: never edit a migration that has shipped. Add a new migration
and update the ``Table`` definitions below to the new shape; if the change alters a table
that migration 1 creates, first freeze migration 1 by copying the old definitions into it.

The store shares its SQLite file with the metric history (``quality_metrics``); nothing here
touches tables it does not define.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sluice.errors import StateError

from .engine import WRITE
from .records import utcnow

__all__ = [
    "MIGRATIONS",
    "Migration",
    "current_version",
    "latest_version",
    "metadata",
    "migrate",
]

metadata = sa.MetaData()

# Timestamps are UTC ISO-8601 strings with microseconds: sortable as text on every backend.
_TS = sa.String(32)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String, nullable=False),
    sa.Column("applied_at", _TS, nullable=False),
)

releases = sa.Table(
    "releases",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("digest", sa.String, nullable=False),
    sa.Column("commit", sa.String, nullable=False),
    sa.Column("author", sa.String, nullable=False),
    sa.Column("created_at", _TS, nullable=False, index=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("dirty", sa.Boolean, nullable=False),
    sa.Column("checks_passed", sa.Boolean, nullable=True),
    sa.Column("manifest_json", sa.Text, nullable=False),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("env", sa.String, nullable=False),
    sa.Column("release_id", sa.String, sa.ForeignKey("releases.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("started_at", _TS, nullable=False),
    sa.Column("finished_at", _TS, nullable=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("deployments_env_status", "env", "status"),
)

deployment_steps = sa.Table(
    "deployment_steps",
    metadata,
    sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("step", sa.String, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("detail_json", sa.Text, nullable=False),
    sa.Column("at", _TS, nullable=False),
)

# The current pointer per environment; ``live_history`` keeps every state ever published.
live_state = sa.Table(
    "live_state",
    metadata,
    sa.Column("env", sa.String, primary_key=True),
    sa.Column("release_id", sa.String, sa.ForeignKey("releases.id"), nullable=False),
    sa.Column("versions_json", sa.Text, nullable=False),
    sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=True),
    sa.Column("since", _TS, nullable=False),
)

live_history = sa.Table(
    "live_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("env", sa.String, nullable=False, index=True),
    sa.Column("release_id", sa.String, sa.ForeignKey("releases.id"), nullable=False),
    sa.Column("versions_json", sa.Text, nullable=False),
    sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=True),
    sa.Column("since", _TS, nullable=False),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("job", sa.String, nullable=False),
    sa.Column("dataset", sa.String, nullable=False),
    sa.Column("version", sa.String, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=True),
    sa.Column("seconds", sa.Float, nullable=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("job_runs_deployment", "deployment_id"),
)

audits = sa.Table(
    "audits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("dataset", sa.String, nullable=False),
    sa.Column("version", sa.String, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("summary_json", sa.Text, nullable=False),
    sa.Index("audits_deployment", "deployment_id"),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("env", sa.String, nullable=False),
    sa.Column("release_id", sa.String, sa.ForeignKey("releases.id"), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("at", _TS, nullable=False),
    # what the approver knowingly accepted, comma-separated ("breaking", …); added in v2
    sa.Column("acknowledges", sa.Text, nullable=False, server_default=""),
    # how the actor was known (v5): "claimed" (the CLI's $SLUICE_USER / git user) or
    # "authenticated" (a token or OIDC identity verified by `sluice serve`)
    sa.Column("via", sa.String(16), nullable=False, server_default="claimed"),
    sa.Index("approvals_env_release", "env", "release_id"),
)

# The primary key on env is what makes acquiring a lock atomic: one INSERT wins.
locks = sa.Table(
    "locks",
    metadata,
    sa.Column("env", sa.String, primary_key=True),
    sa.Column("owner", sa.String, nullable=False),
    sa.Column("acquired_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", _TS, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("env", sa.String, nullable=True, index=True),
    sa.Column("actor", sa.String, nullable=True),
    sa.Column("release_id", sa.String, nullable=True),
    sa.Column("payload_json", sa.Text, nullable=False),
    sqlite_autoincrement=True,  # never reuse a seq, even after the newest row is deleted
)


# Results of `sluice check` per git tree; a release built from that tree records them.
check_runs = sa.Table(
    "check_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tree", sa.String, nullable=False, index=True),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("complete", sa.Boolean, nullable=False),
    sa.Column("summary_json", sa.Text, nullable=False),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("at", _TS, nullable=False),
)


# The protection in force in an environment, recorded with every deployment that changed
# what it serves: gates read it from here, never from a candidate release or the work tree.
protections = sa.Table(
    "protections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("env", sa.String, nullable=False, index=True),
    sa.Column("release_id", sa.String, nullable=False),
    sa.Column("deployment_id", sa.Integer, nullable=True),
    sa.Column("protection_json", sa.Text, nullable=False),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", _TS, nullable=False),
)


# Versions an audit refused, kept for inspection until `sluice gc` drops them (v4).
quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("env", sa.String, primary_key=True),
    sa.Column("dataset", sa.String, primary_key=True),
    sa.Column("version", sa.String, primary_key=True),
    sa.Column("deployment_id", sa.Integer, nullable=False),
    sa.Column("fingerprint", sa.String, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", _TS, nullable=False),
)


# ---------------------------------------------------------------- control plane (v5)
# `sluice serve`: who may call it, what it runs, what triggered it, what it told whom.

# Users and service accounts the server knows besides those declared in sluice.yaml's
# `access:` (added by `sluice users add`); roles as JSON ["approver:prod", "viewer:*"].
principals = sa.Table(
    "principals",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "user" | "service"
    sa.Column("roles_json", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("created_by", sa.String, nullable=False),
)

# API tokens: only a salted hash of the secret is stored; `id` is the token's public part.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("principal", sa.String, nullable=False, index=True),
    sa.Column("salt", sa.String, nullable=False),
    sa.Column("hash", sa.String, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("revoked_at", _TS, nullable=True),
    sa.Column("last_used_at", _TS, nullable=True),
)

# Pipeline executions: one release carried through the promotion order.
executions = sa.Table(
    "executions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),  # webhook|poll|schedule|data|api
    # "pipeline" (a commit through the promotion order) or "run" (re-run one environment)
    sa.Column("action", sa.String(16), nullable=False, server_default="pipeline"),
    sa.Column("trigger_json", sa.Text, nullable=False),
    sa.Column("commit", sa.String, nullable=True),
    sa.Column("ref", sa.String, nullable=True),
    sa.Column("release_id", sa.String, nullable=True),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("started_at", _TS, nullable=True),
    sa.Column("finished_at", _TS, nullable=True),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    # the server process working on it and until when (a lease, renewed while it works)
    sa.Column("lease_owner", sa.String, nullable=True),
    sa.Column("lease_expires", _TS, nullable=True),
    sqlite_autoincrement=True,
)

execution_stages = sa.Table(
    "execution_stages",
    metadata,
    sa.Column("execution_id", sa.Integer, sa.ForeignKey("executions.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # check|release|deploy|approval|promote|run
    sa.Column("env", sa.String, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", _TS, nullable=True),
    sa.Column("finished_at", _TS, nullable=True),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    # an approval stage: the newest approvals.id it has judged (a newer one is judged again)
    sa.Column("approval_seen", sa.Integer, nullable=True),
)

execution_logs = sa.Table(
    "execution_logs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("execution_id", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, nullable=True),
    sa.Column("at", _TS, nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    sa.Index("execution_logs_execution", "execution_id", "seq"),
    sqlite_autoincrement=True,
)

# Webhook deliveries seen: the primary key refuses a replayed delivery id.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("provider", sa.String(16), primary_key=True),
    sa.Column("delivery_id", sa.String, primary_key=True),
    sa.Column("received_at", _TS, nullable=False),
    sa.Column("execution_id", sa.Integer, nullable=True),
)

# Per trigger (a schedule, a polled ref, a watched prefix): what it saw last and which
# server owns it until when, so two servers on one store never both fire it.
trigger_state = sa.Table(
    "trigger_state",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("last_value", sa.Text, nullable=True),
    sa.Column("next_at", _TS, nullable=True),
    sa.Column("lease_owner", sa.String, nullable=True),
    sa.Column("lease_expires", _TS, nullable=True),
)

# Notifications to send (an outbox): retried with backoff, never failing what caused them.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("env", sa.String, nullable=True),
    sa.Column("payload_json", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending|sent|failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_at", _TS, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("sent_at", _TS, nullable=True),
    sa.Column("lease_owner", sa.String, nullable=True),
    sa.Column("lease_expires", _TS, nullable=True),
    # what the dispatcher asks every second: the pending rows that are due
    sa.Index("notifications_due", "status", "next_at"),
    sqlite_autoincrement=True,
)

CONTROL_TABLES = (principals, tokens, executions, execution_stages, execution_logs,
                  deliveries, trigger_state, notifications)


@dataclass(frozen=True)
class Migration:
    """One schema step: ``apply`` runs inside the migration transaction."""

    description: str
    apply: Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    tables = [t for t in metadata.sorted_tables if t is not schema_version]
    metadata.create_all(conn, tables=tables)


def _v2_check_runs(conn: Connection) -> None:
    # a store created by this code's v1 step already has both (v1 builds from the metadata)
    check_runs.create(conn, checkfirst=True)
    columns = {c["name"] for c in sa.inspect(conn).get_columns("approvals")}
    if "acknowledges" not in columns:
        conn.execute(sa.text(
            "ALTER TABLE approvals ADD COLUMN acknowledges TEXT NOT NULL DEFAULT ''"))


def _v3_protections(conn: Connection) -> None:
    protections.create(conn, checkfirst=True)


def _v4_quarantine(conn: Connection) -> None:
    quarantine.create(conn, checkfirst=True)


def _v5_control_plane(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(CONTROL_TABLES), checkfirst=True)
    columns = {c["name"] for c in sa.inspect(conn).get_columns("approvals")}
    if "via" not in columns:
        conn.execute(sa.text(
            "ALTER TABLE approvals ADD COLUMN via VARCHAR(16) NOT NULL DEFAULT 'claimed'"))


MIGRATIONS: Sequence[Migration] = (
    Migration("initial schema", _v1_initial),
    Migration("check runs, approval acknowledgements", _v2_check_runs),
    Migration("recorded protection per environment", _v3_protections),
    Migration("quarantined dataset versions", _v4_quarantine),
    Migration("control plane: principals, tokens, executions, triggers, notifications, "
              "approval identity", _v5_control_plane),
)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """The schema version this code writes."""
    return len(migrations)


def current_version(conn: Connection) -> int:
    """The schema version of the store behind ``conn`` (0 for an empty database)."""
    if not sa.inspect(conn).has_table(schema_version.name):
        return 0
    found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
    return int(found or 0)


def migrate(
    engine: Engine, migrations: Sequence[Migration] = MIGRATIONS, *, where: str = ""
) -> int:
    """Apply pending migrations in one transaction and return the resulting version.

    Raises :class:`StateError` if the store was written by a newer sluice.
    """
    latest = latest_version(migrations)
    with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            # Two processes opening a fresh store at once must not both create the tables.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(8370142265)"))
        schema_version.create(conn, checkfirst=True)
        current = current_version(conn)
        if current > latest:
            raise StateError(
                f"the state store {where or str(engine.url)} has schema version {current}, "
                f"but this sluice only knows versions up to {latest}",
                tip="upgrade sluice (pip install -U sluice), or point SLUICE_STATE_URL at "
                "another store",
            )
        for version in range(current + 1, latest + 1):
            step = migrations[version - 1]
            step.apply(conn)
            conn.execute(
                schema_version.insert().values(
                    version=version,
                    description=step.description,
                    applied_at=utcnow().isoformat(timespec="microseconds"),
                )
            )
    return latest
