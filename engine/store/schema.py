"""The tables. Timestamps are integer microseconds since the epoch (UTC); JSON is stored as text."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

flows = Table(
    "flows",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("name", Text, nullable=False, default=""),
    Column("draft", Text, nullable=False),
    Column("draft_updated_at", BigInteger, nullable=False),
    Column("live_version", Integer),
    Column("paused", Boolean, nullable=False, default=False),
)

flow_versions = Table(
    "flow_versions",
    metadata,
    Column("flow_id", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
    Column("published_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("flow_id", "version"),
)

members = Table(
    "members",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", Text),
    Column("channel", Text),
    Column("tags", Text),  # JSON list
    Column("groups", Text),  # JSON list
    Column("attributes", Text),  # JSON object
    Column("points", BigInteger, nullable=False, default=0),
    Column("total_spend", Float, nullable=False, default=0),
    Column("order_count", Integer, nullable=False, default=0),
    Column("grade", String(8)),
    Column("stage", String(20)),
    Column("blacklisted", Boolean, nullable=False, default=False),
    Column("first_seen", BigInteger, nullable=False),
    Column("last_message_at", BigInteger),
)

groups = Table(
    "groups",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", Text),
    Column("kind", Text),
    Column("tags", Text),  # JSON list
)

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(200), nullable=False, unique=True),
    Column("type", String(200), nullable=False),
    Column("member_id", String(200)),
    Column("group_id", String(200)),
    Column("channel", String(200)),
    Column("at", BigInteger, nullable=False),
    Column("data", Text),  # JSON object, absent when empty
    Index("ix_events_member_type_at", "member_id", "type", "at"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    # The first run of a journey; runs forked from it at a node with several successors share it.
    Column("journey", BigInteger, nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("member_id", String(200)),
    Column("node", String(100), nullable=False),
    Column("status", String(10), nullable=False),
    Column("entered_at", BigInteger, nullable=False),
    # Set only while waiting: the wake time and/or the awaited event type.
    Column("wake_at", BigInteger),
    Column("wait_event", String(200)),
    # Order in which runs became due at equal wake times.
    Column("due_seq", BigInteger),
    Column("event_seq", BigInteger),
    Column("vars", Text),  # JSON object, absent when empty
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger),
    Column("error", Text),
    Index("ix_runs_wake", "wake_at", "due_seq"),
    Index("ix_runs_member_wait", "member_id", "wait_event"),
    Index("ix_runs_flow_member", "flow_id", "member_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("key", String(300), nullable=False, unique=True),
    Column("flow_id", String(100), nullable=False),
    Column("node", String(100), nullable=False),
    Column("run_id", BigInteger),
    Column("member_id", String(200)),
    Column("kind", String(50), nullable=False),
    Column("payload", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("status", String(10), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger),
    Column("error", Text),
    Index("ix_deliveries_status", "status", "next_attempt_at"),
    Index("ix_deliveries_member", "member_id"),
)

node_counts = Table(
    "node_counts",
    metadata,
    Column("flow_id", String(100), nullable=False),
    Column("node", String(100), nullable=False),
    # "entered", or "port:<name>" for runs that left through that port.
    Column("counter", String(110), nullable=False),
    Column("value", BigInteger, nullable=False),
    PrimaryKeyConstraint("flow_id", "node", "counter"),
)

sequences = Table(
    "sequences",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
