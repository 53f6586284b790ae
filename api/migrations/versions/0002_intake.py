"""intake: embedded queue, intake tickets, dead letters, rejects, events, threads, source stats

Revision ID: 0002_intake
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_intake"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("notified_at", TZ, nullable=True))
    # Decisions made before the intake existed were never owed a notification.
    op.execute("UPDATE decisions SET notified_at = decided_at")
    op.create_table(
        "intake_queue",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("available_at", sa.Float(), nullable=False),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("lease_token", sa.String(length=40), nullable=True),
        sa.Column("enqueued_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_index("ix_intake_queue_order", "intake_queue", ["priority", "id"])
    op.create_index("ix_intake_queue_source", "intake_queue", ["source"])
    op.create_table(
        "intake_tickets",
        sa.Column("ticket_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("running_until", sa.Float(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_index("ix_intake_tickets_source", "intake_tickets", ["source"])
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("ticket", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("resolved_at", TZ, nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dead_letters_ticket_id", "dead_letters", ["ticket_id"])
    op.create_index("ix_dead_letters_state", "dead_letters", ["state"])
    op.create_table(
        "intake_rejects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("ticket", sa.JSON(), nullable=True),
        sa.Column("submitted_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_intake_rejects_source", "intake_rejects", ["source"])
    op.create_index("ix_intake_rejects_verdict", "intake_rejects", ["verdict"])
    op.create_index("ix_intake_rejects_created_at", "intake_rejects", ["created_at"])
    op.create_table(
        "intake_events",
        sa.Column("event_id", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.String(length=200), nullable=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "intake_threads",
        sa.Column("message_id", sa.String(length=400), nullable=False),
        sa.Column("ticket_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_intake_threads_ticket_id", "intake_threads", ["ticket_id"])
    op.create_table(
        "intake_sources",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_success_at", TZ, nullable=True),
        sa.Column("last_failure_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    for table in (
        "intake_sources",
        "intake_threads",
        "intake_events",
        "intake_rejects",
        "dead_letters",
        "intake_tickets",
        "intake_queue",
    ):
        op.drop_table(table)
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("notified_at")
