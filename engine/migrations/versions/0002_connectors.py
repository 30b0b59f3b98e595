"""connectors: settings, routes, honest delivery statuses

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'connector_settings',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('options', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'connector_routes',
        sa.Column('kind', sa.String(length=50), nullable=False),
        sa.Column('connector', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('kind'),
    )
    # `awaiting_confirmation` does not fit the old 10 characters. SQLite does not enforce the length,
    # and changing it there would copy the whole table.
    if op.get_context().dialect.name != 'sqlite':
        op.alter_column(
            'deliveries', 'status', existing_type=sa.String(length=10), type_=sa.String(length=30),
            existing_nullable=False,
        )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('reference', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('reference')
        batch_op.drop_column('reason')
    op.drop_table('connector_routes')
    op.drop_table('connector_settings')
