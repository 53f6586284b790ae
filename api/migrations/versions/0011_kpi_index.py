"""kpi index: the KPIs of a period read index entries, not a scan of every decided ticket

Revision ID: 0011_kpi_index
Revises: 0010_review_claim_token
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0011_kpi_index"
down_revision = "0010_review_claim_token"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Status first: the KPIs ask for the decided statuses of a period, and SQLite without
    # statistics otherwise takes the status index and reads every decided ticket's row (~190k
    # of a year's 200k) to check its date. With the id the period's tickets come from the index.
    op.create_index("ix_tickets_status_created_at", "tickets", ["status", "created_at", "id"])
    # Every column the KPIs read of a decision: its row (with the decision's JSON and evidence)
    # is never read for them.
    op.create_index(
        "ix_decisions_kpi",
        "decisions",
        ["ticket_id", "id", "team", "escalate", "needs_review", "decided_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_kpi", table_name="decisions")
    op.drop_index("ix_tickets_status_created_at", table_name="tickets")
