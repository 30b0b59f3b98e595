"""WeCom channel codes: the 渠道活码 made for each channel (add_contact_way), made once and kept

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wecom_contact_ways",
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("config_id", sa.String(length=200), nullable=False),
        sa.Column("qr_code", sa.Text(), nullable=False),
        sa.Column("staff", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel"),
    )


def downgrade() -> None:
    op.drop_table("wecom_contact_ways")
