"""WeCom callbacks: a member's owner staff account; when a group was dismissed

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff", sa.String(length=200), nullable=True))
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dismissed_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_column("dismissed_at")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("staff")
