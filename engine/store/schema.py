"""The tables. Timestamps are integer microseconds since the epoch (UTC); JSON is stored as text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from ..member import ACTIVITY, KEY, PROFILE
from ..record import REQUIRED, Field
from ..run import IDENTITY, STATE

metadata = MetaData()

_KINDS = {"text": Text, "int": Integer, "bigint": BigInteger, "float": Float, "bool": Boolean, "json": Text}


def columns(fields: Sequence[Field], primary_key: bool = False) -> list[Column[Any]]:
    """The columns of fields declared in the engine (a member's, a run's), in their order."""
    made: list[Column[Any]] = []
    for field in fields:
        kind, _, size = field.column.partition(":")
        sql = String(int(size)) if kind == "string" else _KINDS[kind]()
        default = None if field.nullable or field.default is REQUIRED else field.default
        made.append(
            Column(
                field.name,
                sql,
                primary_key=primary_key,
                nullable=primary_key is False and field.nullable,
                default=default,
            )
        )
    return made


# A 64-bit id. On SQLite it is declared INTEGER so that, as the primary key, it is the table's rowid:
# a BIGINT key would be a second b-tree beside the rowid, written on every insert and searched before
# the row on every update.
Id = BigInteger().with_variant(Integer(), "sqlite")

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
    # Approval before large sends (DESIGN §18): `published` (live at once; no status on older rows),
    # `pending_approval`, `approved` or `rejected`; who asked, who decided, when, and why not.
    Column("status", String(30)),
    Column("requested_by", String(100)),
    Column("decided_by", String(100)),
    Column("decided_at", BigInteger),
    Column("reason", Text),
    Column("reach", BigInteger),
    PrimaryKeyConstraint("flow_id", "version"),
)

members = Table(
    "members",
    metadata,
    *columns([KEY], primary_key=True),
    *columns([*PROFILE, *ACTIVITY]),
)

groups = Table(
    "groups",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", Text),
    Column("kind", Text),
    Column("tags", Text),  # JSON list
    # How many members the store knows in the group, kept up to date as members join and leave.
    Column("member_count", BigInteger, nullable=False, default=0, server_default="0"),
    # The group's own size cap for `action.invite_to_group` (absent: the node's), and its owner (staff id).
    Column("capacity", Integer),
    Column("owner", String(200)),
    # When WeCom said the group was dismissed (解散), if it was (DESIGN §20).
    Column("dismissed_at", BigInteger),
)

# The content library (话术库): each item whole, as JSON, with what it is searched and listed by.
content = Table(
    "content",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("title", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("item", Text, nullable=False),  # JSON object: engine.content.ContentItem
    Column("updated_at", BigInteger, nullable=False),
)

# Staff accounts (员工) that add friends and own groups, and the tag library (标签库).
staff = Table(
    "staff",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", Text),
    Column("daily_friend_limit", Integer),
)

tags = Table(
    "tags",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("category", String(20), nullable=False),
    Column("color", String(7)),
)

events = Table(
    "events",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
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
    Column("id", Id, primary_key=True, autoincrement=False),
    *columns([*IDENTITY[1:], *STATE]),
    # A worker's claim on a due run (see engine.worker): who holds it and until when.
    Column("lease_owner", String(100)),
    Column("lease_until", BigInteger),
    # Only waiting runs have a wake time: the index holds those alone.
    Index(
        "ix_runs_wake",
        "wake_at",
        "due_seq",
        sqlite_where=text("wake_at IS NOT NULL"),
        postgresql_where=text("wake_at IS NOT NULL"),
    ),
    Index("ix_runs_member_wait", "member_id", "wait_event"),
    Index("ix_runs_flow_member", "flow_id", "member_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("key", String(300), nullable=False, unique=True),
    Column("flow_id", String(100), nullable=False),
    Column("node", String(100), nullable=False),
    Column("run_id", BigInteger),
    Column("member_id", String(200)),
    Column("kind", String(50), nullable=False),
    Column("payload", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    # pending, sent, failed, recorded, awaiting_confirmation, skipped (engine.store.leases)
    Column("status", String(30), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger),
    Column("error", Text),
    # The dispatcher holding the delivery while it sends it (see engine.outbox), and when it was sent.
    Column("lease_owner", String(100)),
    Column("sent_at", BigInteger),
    # Why a delivery was skipped (`quota`, `budget`); the outside system's id while it awaits confirmation.
    Column("reason", String(50)),
    Column("reference", String(200)),
    # A `message` to the member (`to: member`) that was made: what the touch budget counts (DESIGN §18).
    Column("touch", Boolean),
    Index("ix_deliveries_status", "status", "next_attempt_at"),
    Index("ix_deliveries_member", "member_id"),
)

# -- settled deliveries and staff tasks (engine.settlements, engine.store.tasks) ---------------------

# When a delivery reached a final status, and whether a run waits to hear of it: `waiting` (not settled
# yet), `due` (settled, the run not told yet) or `told`. Only the `due` ones are in the index: the
# engine's queue of runs to resume.
deliveries.append_column(Column("settled_at", BigInteger))
deliveries.append_column(Column("notify", String(10)))
Index(
    "ix_deliveries_notify_due",
    deliveries.c.settled_at,
    deliveries.c.id,
    sqlite_where=text("notify = 'due'"),
    postgresql_where=text("notify = 'due'"),
)
# Deliveries a staff member carries out (task, friend_request, remove): whose they are (`''` when no
# one is named), and how they were closed (`done` / `skipped`, by a `task_completed` event) and when.
deliveries.append_column(Column("staff", String(200)))
deliveries.append_column(Column("task_outcome", String(10)))
deliveries.append_column(Column("closed_at", BigInteger))
Index(
    "ix_deliveries_staff",
    deliveries.c.staff,
    deliveries.c.at,
    sqlite_where=text("staff IS NOT NULL"),
    postgresql_where=text("staff IS NOT NULL"),
)
# A test send (the editor's 测试发送, engine.test_send): a node's message sent now to a chosen member
# or staff account, outside any run. True only there; no cap, budget, quota or report counts it.
deliveries.append_column(Column("test", Boolean))


def not_test(columns: Any) -> ColumnElement[bool]:
    """Deliveries that are not test sends: what quotas, caps and reports count (`test` is NULL there)."""
    return columns.test.is_(None)


node_counts = Table(
    "node_counts",
    metadata,
    Column("flow_id", String(100), nullable=False),
    Column("node", String(100), nullable=False),
    # "entered", or "port:<name>" for runs that left through that port.
    Column("counter", String(110), nullable=False),
    Column("value", BigInteger, nullable=False),
    # The flow version the counted runs are on; 0 for what was counted before versions were kept
    # apart (migration 0013) in a flow that had had several versions.
    Column("version", Integer, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("flow_id", "version", "node", "counter"),
)

sequences = Table(
    "sequences",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# -- accounts (the web app): users, API tokens, sessions, and the app's own secrets --------------------

users = Table(
    "users",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("password_hash", Text, nullable=False),  # argon2
    Column("role", String(20), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("digest", String(64), nullable=False, unique=True),  # SHA-256 of the token; never the token
    Column("role", String(20), nullable=False),
    Column("label", Text),
    Column("created_at", BigInteger, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the session id in the cookie
    Column("user_name", String(100), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

# The app's own secrets (the session signing key), each sealed with the secret key (engine.vault).
app_secrets = Table(
    "app_secrets",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", Text, nullable=False),
)


# The backtest (engine.backtest) reads a span of stored events in time order.
Index("ix_events_at", events.c.at)

# Staff daily limits count today's deliveries of one kind (`friend_request`).
Index("ix_deliveries_kind_at", deliveries.c.kind, deliveries.c.at)

# One row per scheduled trigger of a live flow: when it fires next, when it last fired, and the
# progress of a fire that is being handed out to its audience in batches.
schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("flow_id", String(100), nullable=False),
    Column("node", String(100), nullable=False),
    Column("cron", String(200), nullable=False),
    Column("timezone", String(100), nullable=False),
    Column("next_fire", BigInteger),
    Column("last_fire", BigInteger),
    # While a fire is under way: its tick, and the last member id handed out.
    Column("firing", BigInteger),
    Column("cursor", String(200)),
    PrimaryKeyConstraint("flow_id", "node"),
)

# -- connectors (DESIGN §19): what admins configured, and where each delivery kind goes ---------------

connector_settings = Table(
    "connector_settings",
    metadata,
    Column("name", String(100), primary_key=True),
    # JSON object of the connector's options; secret fields sealed with the secret key (engine.vault).
    Column("options", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

connector_routes = Table(
    "connector_routes",
    metadata,
    Column("kind", String(50), primary_key=True),
    Column("connector", String(100), nullable=False),
)

# -- the WeCom connector's own records (DESIGN §20) ----------------------------------------------------

# One row per delivery the WeCom connector handed to WeCom (or is handing): which call made it, the
# task's msgid once known, and what became of it. It makes a retried delivery find its task instead
# of making a second one, counts each customer's mass sends (the quota ledger), and drives the
# confirmation polling.
wecom_sends = Table(
    "wecom_sends",
    metadata,
    Column("key", String(300), primary_key=True),  # the delivery's idempotency key
    Column("kind", String(20), nullable=False),  # mass (to a customer), group, welcome
    Column("member_id", String(200)),
    Column("recipient", String(200), nullable=False),  # external_userid or chat_id
    Column("sender", String(200)),
    Column("batch", String(40), nullable=False),  # the call that made it (shared by a batch)
    Column("msgid", String(200)),
    # calling (the call is under way or its answer was lost), awaiting, sent, failed
    Column("state", String(20), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("reminded_at", BigInteger),
    Column("settled_at", BigInteger),
    Index("ix_wecom_sends_member", "member_id", "created_at"),
    Index("ix_wecom_sends_state", "state", "created_at"),
    Index("ix_wecom_sends_msgid", "msgid"),
)

# Each customer group's join way (`groupchat/add_join_way`), made once and kept.
wecom_join_ways = Table(
    "wecom_join_ways",
    metadata,
    Column("group_id", String(200), primary_key=True),
    Column("config_id", String(200), nullable=False),
    Column("qr_code", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# -- goals and holdouts (DESIGN §16) ------------------------------------------------------------------

# One row per journey of a flow with a goal, made when it starts: the window in which an event of
# type `event` converts it, whether it was held out, and when it converted. Events look their
# member's open rows up by (member, event type); reports sum rows by flow and start.
goal_journeys = Table(
    "goal_journeys",
    metadata,
    Column("journey", Id, primary_key=True, autoincrement=False),
    Column("flow_id", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("member_id", String(200), nullable=False),
    Column("event", String(200), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("until", BigInteger, nullable=False),
    Column("holdout", Boolean, nullable=False),
    Column("converted_at", BigInteger),
    Index("ix_goal_journeys_member_event", "member_id", "event"),
)

# Per flow and local day (the flow's timezone) of a journey's start: journeys entered, held out,
# and of those how many converted (counted on the day they entered), kept as the engine runs.
flow_days = Table(
    "flow_days",
    metadata,
    Column("flow_id", String(100), nullable=False),
    Column("day", String(10), nullable=False),  # YYYY-MM-DD
    # `entered`, `converted`, `holdout:entered`, `holdout:converted`
    Column("counter", String(40), nullable=False),
    Column("value", BigInteger, nullable=False),
    PrimaryKeyConstraint("flow_id", "day", "counter"),
)

# The touch budget counts each member's touches in a sliding window: the index holds touches alone.
Index(
    "ix_deliveries_touch",
    deliveries.c.member_id,
    deliveries.c.at,
    sqlite_where=text("touch"),
    postgresql_where=text("touch"),
)

# -- community settings (DESIGN §18): one row per field that is set, its value as JSON ---------------

community_settings = Table(
    "community_settings",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(100)),
)

# -- reports (DESIGN §17): daily rollups kept as the engine writes, and what channels cost -------------

# One cell of a rollup (engine.rollup): a topic (`stage`, `channel`, `group`, `delivery`, ...), a key
# (a stage, channel, group or delivery kind), a local day (`YYYYMMDD`) and a metric. A report sums a
# few of them instead of scanning events or members. On SQLite the key is the table (no rowid).
daily_stats = Table(
    "daily_stats",
    metadata,
    Column("topic", String(20), nullable=False),
    Column("day", Integer, nullable=False),
    Column("key", String(200), nullable=False),
    Column("metric", String(60), nullable=False),
    Column("value", Float, nullable=False),
    PrimaryKeyConstraint("topic", "day", "key", "metric"),
    sqlite_with_rowid=False,
)

# The channels (渠道) operators name and give a cost; a member's `channel` is one of their ids.
channels = Table(
    "channels",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", Text),
    Column("cost", Float, nullable=False, default=0),
    Column("updated_at", BigInteger, nullable=False),
)

# The channel codes (渠道活码, `add_contact_way`) made for channels: one per channel, kept, so a code
# printed on a poster stays the same. `channel` is the code's `state` (WeCom allows 30 characters).
wecom_contact_ways = Table(
    "wecom_contact_ways",
    metadata,
    Column("channel", String(30), primary_key=True),
    Column("config_id", String(200), nullable=False),
    Column("qr_code", Text, nullable=False),
    Column("staff", Text, nullable=False),  # JSON list of the staff the code adds
    Column("created_at", BigInteger, nullable=False),
)
