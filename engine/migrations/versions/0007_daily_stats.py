"""reports: daily rollups, channel costs, and when a member deleted the contact

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_lost_at", sa.BigInteger(), nullable=True))
    op.create_table(
        "daily_stats",
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "day", "key", "metric"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # A community that ran before: its rollups start from what is stored (members, the events of
    # groups, deliveries), so the reports are right from the first page.
    from qunflow.engine.store.stats import rebuild_stats

    rebuild_stats(op.get_bind())


def downgrade() -> None:
    op.drop_table("channels")
    op.drop_table("daily_stats")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("contact_lost_at")
