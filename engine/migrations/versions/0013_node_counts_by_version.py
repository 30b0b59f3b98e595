"""node counters per flow version: the canvas shows the figures of the version it looks at

Revision ID: 0013
Revises: 0012

The counters gain a `version` column in their key. What was counted before cannot be split by version,
except in a flow that only ever had one live version: those counters are that version's. The others
stay under version 0 (counted before versions were kept apart).
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Versions that went live: published at once (no status on older rows), or approved.
_SINGLE_LIVE_VERSION = (
    "SELECT flow_id, MIN(version) AS version FROM flow_versions"
    " WHERE status IS NULL OR status IN ('published', 'approved')"
    " GROUP BY flow_id HAVING COUNT(*) = 1"
)


def upgrade() -> None:
    op.create_table(
        "node_counts_by_version",
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("node", sa.String(length=100), nullable=False),
        sa.Column("counter", sa.String(length=110), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "version", "node", "counter"),
    )
    op.execute(
        "INSERT INTO node_counts_by_version (flow_id, version, node, counter, value)"
        " SELECT c.flow_id, COALESCE(s.version, 0), c.node, c.counter, c.value FROM node_counts c"
        f" LEFT JOIN ({_SINGLE_LIVE_VERSION}) s ON s.flow_id = c.flow_id"
    )
    op.drop_table("node_counts")
    op.rename_table("node_counts_by_version", "node_counts")
    _name_primary_key("node_counts_by_version")


def _name_primary_key(made_as: str) -> None:
    """PostgreSQL keeps a renamed table's key under its old name: give it the table's own."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE node_counts RENAME CONSTRAINT {made_as}_pkey TO node_counts_pkey")


def downgrade() -> None:
    op.create_table(
        "node_counts_over_versions",
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("node", sa.String(length=100), nullable=False),
        sa.Column("counter", sa.String(length=110), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "node", "counter"),
    )
    op.execute(
        "INSERT INTO node_counts_over_versions (flow_id, node, counter, value)"
        " SELECT flow_id, node, counter, SUM(value) FROM node_counts GROUP BY flow_id, node, counter"
    )
    op.drop_table("node_counts")
    op.rename_table("node_counts_over_versions", "node_counts")
    _name_primary_key("node_counts_over_versions")
