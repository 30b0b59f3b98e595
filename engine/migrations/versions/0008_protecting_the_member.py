"""protecting the member: community settings, the touch ledger on deliveries, approval of versions

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "community_settings",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("touch", sa.Boolean(), nullable=True))
    op.create_index(
        "ix_deliveries_touch",
        "deliveries",
        ["member_id", "at"],
        unique=False,
        sqlite_where=sa.text("touch"),
        postgresql_where=sa.text("touch"),
    )
    with op.batch_alter_table("flow_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("requested_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reach", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flow_versions", schema=None) as batch_op:
        for column in ("reach", "reason", "decided_at", "decided_by", "requested_by", "status"):
            batch_op.drop_column(column)
    op.drop_index("ix_deliveries_touch", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("touch")
    op.drop_table("community_settings")
