"""helpdesk: outbox of decisions to apply, events handled, resolved outcomes

Revision ID: 0003_helpdesk
Revises: 0002_intake
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_helpdesk"
down_revision = "0002_intake"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "helpdesk_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.String(length=200), nullable=False),
        sa.Column("helpdesk", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("update", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("applied_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("decision_id"),
    )
    op.create_index("ix_helpdesk_outbox_status", "helpdesk_outbox", ["status"])
    op.create_index("ix_helpdesk_outbox_external_id", "helpdesk_outbox", ["external_id"])
    op.create_table(
        "helpdesk_events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("processed_at", TZ, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_helpdesk_events_external_id", "helpdesk_events", ["external_id"])
    op.create_table(
        "helpdesk_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("helpdesk", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("ticket_id", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_helpdesk_outcomes_external_id", "helpdesk_outcomes", ["external_id"])
    op.create_index("ix_helpdesk_outcomes_ticket_id", "helpdesk_outcomes", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("helpdesk_outcomes")
    op.drop_table("helpdesk_events")
    op.drop_table("helpdesk_outbox")
