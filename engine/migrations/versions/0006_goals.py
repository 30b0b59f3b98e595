"""goals and holdouts: the runs' goal path, conversion and exit reason; journeys with a goal; daily
flow counters

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
# A 64-bit id, the table's rowid on SQLite (as engine.store.schema.Id).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("path", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("converted_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=20), nullable=True))
    op.create_table(
        "goal_journeys",
        sa.Column("journey", ID, autoincrement=False, nullable=False),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("converted_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("journey"),
    )
    with op.batch_alter_table("goal_journeys", schema=None) as batch_op:
        batch_op.create_index("ix_goal_journeys_member_event", ["member_id", "event"], unique=False)
    op.create_table(
        "flow_days",
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("counter", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "day", "counter"),
    )


def downgrade() -> None:
    op.drop_table("flow_days")
    with op.batch_alter_table("goal_journeys", schema=None) as batch_op:
        batch_op.drop_index("ix_goal_journeys_member_event")
    op.drop_table("goal_journeys")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("converted_at")
        batch_op.drop_column("path")
