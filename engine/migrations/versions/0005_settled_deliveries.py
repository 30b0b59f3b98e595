"""settled deliveries and staff tasks: when a delivery settled, whether a run waits to hear of it,
and, for deliveries a staff member carries out (task, friend_request, remove), whose they are and
how they were closed

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("settled_at", sa.BigInteger(), nullable=True))
    op.add_column("deliveries", sa.Column("notify", sa.String(length=10), nullable=True))
    op.add_column("deliveries", sa.Column("staff", sa.String(length=200), nullable=True))
    op.add_column("deliveries", sa.Column("task_outcome", sa.String(length=10), nullable=True))
    op.add_column("deliveries", sa.Column("closed_at", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_deliveries_notify_due",
        "deliveries",
        ["settled_at", "id"],
        sqlite_where=sa.text("notify = 'due'"),
        postgresql_where=sa.text("notify = 'due'"),
    )
    op.create_index(
        "ix_deliveries_staff",
        "deliveries",
        ["staff", "at"],
        sqlite_where=sa.text("staff IS NOT NULL"),
        postgresql_where=sa.text("staff IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_staff", table_name="deliveries")
    op.drop_index("ix_deliveries_notify_due", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for column in ("closed_at", "task_outcome", "staff", "notify", "settled_at"):
            batch_op.drop_column(column)
