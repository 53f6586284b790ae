"""event pending index: the back-flow's pass reads its pending events without a scan of all

Revision ID: 0009_event_pending_index
Revises: 0008_ticket_external_index
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_event_pending_index"
down_revision = "0008_ticket_external_index"
branch_labels = None
depends_on = None

PENDING = sa.text("processed_at IS NULL")


def upgrade() -> None:
    # Partial: only the unprocessed events, a handful however many were ever seen; the
    # re-openings (processed events) keep finding theirs by external id.
    op.create_index(
        "ix_helpdesk_events_pending",
        "helpdesk_events",
        ["source", "received_at"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_helpdesk_events_pending", table_name="helpdesk_events")
