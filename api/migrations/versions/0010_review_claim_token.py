"""review claim token: a reviewer's claim of a held ticket is held by that reviewer alone

Revision ID: 0010_review_claim_token
Revises: 0009_event_pending_index
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_review_claim_token"
down_revision = "0009_event_pending_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a ticket claimed by an older release has no token; its claim goes stale and is
    # taken again with one.
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("claim_token", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("claim_token")
