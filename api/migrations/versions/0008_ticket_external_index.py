"""ticket external index: the helpdesk ticket's own ticket here is looked up, not scanned for

Revision ID: 0008_ticket_external_index
Revises: 0007_event_claim
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0008_ticket_external_index"
down_revision = "0007_event_claim"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both columns: the back-flow asks for both (external id, from the signed webhook), and
    # SQLite without statistics prefers an index that matches both over the submitter's alone.
    op.create_index(
        "ix_tickets_external_id_submitted_by", "tickets", ["external_id", "submitted_by"]
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_external_id_submitted_by", table_name="tickets")
