"""event seen txn: the catch-up reads the newest and earliest RT transaction seen from an index

Each seen event of RT's keeps the transaction number its id names (``rt-txn-456``: 456) in a
column of its own, indexed with the source; the rows already seen get theirs here. Before, each
catch-up pass parsed every event id ever seen to find the two.

Revision ID: 0012_event_seen_txn
Revises: 0011_kpi_index
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_event_seen_txn"
down_revision = "0011_kpi_index"
branch_labels = None
depends_on = None

PREFIX = "rt-txn-"
DIGITS_MAX = 18  # a transaction id's digits that still fit a BIGINT


def upgrade() -> None:
    with op.batch_alter_table("intake_events") as batch:
        batch.add_column(sa.Column("seen_txn", sa.BigInteger(), nullable=True))
    events = sa.table(
        "intake_events",
        sa.column("source", sa.String()),
        sa.column("event_id", sa.String()),
        sa.column("seen_txn", sa.BigInteger()),
    )
    # Only ids as the scrip writes them: digits after the prefix, no leading zero. The cast is
    # made only where that holds (a CASE: casting 'abc' fails on PostgreSQL, is 0 on SQLite).
    suffix = sa.func.substr(events.c.event_id, len(PREFIX) + 1)
    scrip_made = sa.and_(
        sa.func.length(suffix).between(1, DIGITS_MAX),
        sa.func.ltrim(suffix, "0123456789") == "",
        sa.not_(suffix.like("0%")),
    )
    op.execute(
        events.update()
        .where(events.c.source == "rt", events.c.event_id.like(f"{PREFIX}%"))
        .values(seen_txn=sa.case((scrip_made, sa.cast(suffix, sa.BigInteger))))
    )
    op.create_index("ix_intake_events_seen_txn", "intake_events", ["source", "seen_txn"])


def downgrade() -> None:
    op.drop_index("ix_intake_events_seen_txn", table_name="intake_events")
    with op.batch_alter_table("intake_events") as batch:
        batch.drop_column("seen_txn")
