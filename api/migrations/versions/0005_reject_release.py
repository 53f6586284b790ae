"""reject release: a person may send a kept payload on to triage, once

Revision ID: 0005_reject_release
Revises: 0004_scoped_ids
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_reject_release"
down_revision = "0004_scoped_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_rejects") as batch:
        batch.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("released_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("ticket_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intake_rejects") as batch:
        batch.drop_column("ticket_id")
        batch.drop_column("released_by")
        batch.drop_column("released_at")
