"""event claim: a helpdesk event is processed by one back-flow worker, which holds a lease on it

Revision ID: 0007_event_claim
Revises: 0006_reject_key
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_event_claim"
down_revision = "0006_reject_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: the events already recorded are free to take.
    with op.batch_alter_table("helpdesk_events") as batch:
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_events") as batch:
        batch.drop_column("claimed_until")
