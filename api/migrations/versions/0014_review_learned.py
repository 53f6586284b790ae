"""review learned: a reviewer's decision is stored with its review, to be learned, at once

A review row is now written in the transaction that stores the decision, with the decision's id
and ``learned_at`` unset until the knowledge base has learned it: a process that dies in
between, or a knowledge base that is down then, leaves it to be learned later, not lost. The
reviews already recorded count as learned (they were, or their answer said they were not).

Revision ID: 0014_review_learned
Revises: 0012_event_seen_txn
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_review_learned"
down_revision = "0012_event_seen_txn"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_actions") as batch:
        batch.add_column(sa.Column("decision_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("learned_at", sa.DateTime(timezone=True), nullable=True))
    reviews = sa.table(
        "review_actions",
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("learned_at", sa.DateTime(timezone=True)),
    )
    op.execute(reviews.update().values(learned_at=reviews.c.created_at))
    op.create_index("ix_review_actions_learned_at", "review_actions", ["learned_at"])


def downgrade() -> None:
    op.drop_index("ix_review_actions_learned_at", table_name="review_actions")
    with op.batch_alter_table("review_actions") as batch:
        batch.drop_column("learned_at")
        batch.drop_column("decision_id")
