"""wecom: the connector's sends (idempotency, quota ledger, confirmations) and groups' join ways

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'wecom_sends',
        sa.Column('key', sa.String(length=300), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('member_id', sa.String(length=200), nullable=True),
        sa.Column('recipient', sa.String(length=200), nullable=False),
        sa.Column('sender', sa.String(length=200), nullable=True),
        sa.Column('batch', sa.String(length=40), nullable=False),
        sa.Column('msgid', sa.String(length=200), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('reminded_at', sa.BigInteger(), nullable=True),
        sa.Column('settled_at', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_wecom_sends_member', 'wecom_sends', ['member_id', 'created_at'])
    op.create_index('ix_wecom_sends_state', 'wecom_sends', ['state', 'created_at'])
    op.create_index('ix_wecom_sends_msgid', 'wecom_sends', ['msgid'])
    op.create_table(
        'wecom_join_ways',
        sa.Column('group_id', sa.String(length=200), nullable=False),
        sa.Column('config_id', sa.String(length=200), nullable=False),
        sa.Column('qr_code', sa.Text(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('group_id'),
    )


def downgrade() -> None:
    op.drop_table('wecom_join_ways')
    op.drop_index('ix_wecom_sends_msgid', table_name='wecom_sends')
    op.drop_index('ix_wecom_sends_state', table_name='wecom_sends')
    op.drop_index('ix_wecom_sends_member', table_name='wecom_sends')
    op.drop_table('wecom_sends')
