"""scoped ids: helpdesk events are unique per source; external-id keys per submitting key

Revision ID: 0004_scoped_ids
Revises: 0003_helpdesk
Create Date: 2026-11-30

Two helpdesks may both send event "1001", and two helpdesk keys (two customers' systems) may both
send ticket "T-1": neither is the other's duplicate. Events are keyed by (source, event_id), and
an external-id idempotency key of a ticket a helpdesk key (or the signed webhook) submitted gains
that key's id, as new ones are written (api.service.external_key).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_scoped_ids"
down_revision = "0003_helpdesk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _events_keyed_by(["source", "event_id"])
    op.execute(
        sa.text(
            "UPDATE tickets SET idempotency_key = "
            "'ext:' || submitted_by || ':' || substr(idempotency_key, 5) "
            "WHERE idempotency_key LIKE 'ext:%' AND (submitted_by = 'webhook' OR submitted_by IN "
            "(SELECT id FROM api_keys WHERE role = 'helpdesk'))"
        )
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE tickets SET idempotency_key = "
            "'ext:' || substr(idempotency_key, length(submitted_by) + 6) "
            "WHERE submitted_by IS NOT NULL "
            "AND idempotency_key LIKE 'ext:' || submitted_by || ':%'"
        )
    )
    _events_keyed_by(["event_id"])


def _events_keyed_by(columns: list[str]) -> None:
    """Give intake_events that primary key; SQLite cannot alter one, so the table is rebuilt."""
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("intake_events_pkey", "intake_events", type_="primary")
        op.create_primary_key("intake_events_pkey", "intake_events", columns)
        return
    op.create_table(
        "intake_events_new",
        sa.Column("event_id", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*columns),
    )
    names = "event_id, source, type, outcome, ticket_id, received_at"
    op.execute(
        sa.text(f"INSERT INTO intake_events_new ({names}) SELECT {names} FROM intake_events")
    )
    op.drop_table("intake_events")
    op.rename_table("intake_events_new", "intake_events")
