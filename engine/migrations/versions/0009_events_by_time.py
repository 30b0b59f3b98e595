"""events by time: the backtest streams a span of stored events in time order

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_at", "events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_at", table_name="events")
