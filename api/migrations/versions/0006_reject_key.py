"""reject key: a kept payload remembers the idempotency key it was sent with

Revision ID: 0006_reject_key
Revises: 0005_reject_release
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_reject_key"
down_revision = "0005_reject_release"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_rejects") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=400), nullable=True))
        batch.create_unique_constraint("uq_intake_rejects_idempotency_key", ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("intake_rejects") as batch:
        batch.drop_constraint("uq_intake_rejects_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
