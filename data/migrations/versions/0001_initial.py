"""The ops store as it was before Alembic: users, sessions, sign-in back-off, device tokens,
annotations, alert episodes / transitions / events, the notification outbox, the shift log,
and (on PostgreSQL only; SQLite keeps them in wall_screens.sqlite) wall screen heartbeats.

Tables and indexes that already exist are left as they are: an ``ops.sqlite`` made by the
code before Alembic (CREATE TABLE IF NOT EXISTS at first use, the notification and shift-log
tables only once those features ran) has the same tables, so upgrading it creates only what is
missing and records this revision.

Portable forms of what SQLite spelled its own way: ``AUTOINCREMENT`` ids are identity columns
on PostgreSQL (64-bit), the partial unique index on live episodes is ``WHERE state !=
'resolved'`` on both, floats are double precision, and text compares byte-wise (``COLLATE
"C"`` on PostgreSQL, as SQLite's BINARY), so ISO timestamps and names sort the same on both.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

T = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY = the rowid
REAL = sa.Float(precision=53)


def _id(autoincrement=True):
    return sa.Column("id", ID, primary_key=True, autoincrement=autoincrement)


def _tables():
    """(name, columns and constraints, table options) in creation order."""
    return [
        ("users", [
            sa.Column("username", T, primary_key=True), sa.Column("password_hash", T, nullable=False),
            sa.Column("role", T, nullable=False), sa.Column("districts", T, nullable=False, server_default=""),
            sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
            sa.Column("created_at", T, nullable=False), sa.Column("updated_at", T, nullable=False),
            sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0")], {}),
        ("device_tokens", [
            sa.Column("token_id", T, primary_key=True), sa.Column("token_hash", T, nullable=False, unique=True),
            sa.Column("name", T, nullable=False), sa.Column("created_at", T, nullable=False),
            sa.Column("revoked_at", T)], {}),
        ("annotations", [
            _id(), sa.Column("created_at", T, nullable=False), sa.Column("created_by", T, nullable=False),
            sa.Column("starts_at", T, nullable=False), sa.Column("ends_at", T, nullable=False),
            sa.Column("district_id", T), sa.Column("domain", T), sa.Column("kind", T, nullable=False),
            sa.Column("title", T, nullable=False)], {"sqlite_autoincrement": True}),
        ("alert_episodes", [
            _id(), sa.Column("metric_id", T, nullable=False), sa.Column("district_id", T, nullable=False),
            sa.Column("rule", T, nullable=False), sa.Column("severity", T, nullable=False),
            sa.Column("state", T, nullable=False), sa.Column("domain", T), sa.Column("grain", T),
            sa.Column("first_period", T), sa.Column("last_period", T), sa.Column("opened_at", T, nullable=False),
            sa.Column("updated_at", T, nullable=False), sa.Column("resolved_at", T),
            sa.Column("value", REAL), sa.Column("expected", REAL), sa.Column("lower", REAL),
            sa.Column("upper", REAL), sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
            sa.Column("target", REAL), sa.Column("message", T), sa.Column("forecast_at", T),
            sa.Column("assignee", T), sa.Column("acknowledged_by", T), sa.Column("acknowledged_at", T),
            sa.Column("snoozed_until", T), sa.Column("data_version", T)], {"sqlite_autoincrement": True}),
        ("alert_transitions", [
            _id(), sa.Column("episode_id", ID, sa.ForeignKey("alert_episodes.id"), nullable=False),
            sa.Column("at", T, nullable=False), sa.Column("actor", T, nullable=False),
            sa.Column("from_state", T), sa.Column("to_state", T, nullable=False), sa.Column("note", T)],
         {"sqlite_autoincrement": True}),
        ("alert_events", [
            _id(), sa.Column("episode_id", ID, sa.ForeignKey("alert_episodes.id"), nullable=False),
            sa.Column("at", T, nullable=False), sa.Column("kind", T, nullable=False),
            sa.Column("payload", T, nullable=False)], {"sqlite_autoincrement": True}),
        ("sessions", [
            sa.Column("session_hash", T, primary_key=True), sa.Column("kind", T, nullable=False),
            sa.Column("subject", T, nullable=False), sa.Column("epoch", sa.Integer, nullable=False),
            sa.Column("created_at", T, nullable=False), sa.Column("expires_at", T, nullable=False)], {}),
        ("login_failures", [
            sa.Column("username", T, primary_key=True), sa.Column("failures", sa.Integer, nullable=False),
            sa.Column("last_at", T, nullable=False), sa.Column("locked_until", T)], {}),
        # notifications (data/notify.py)
        ("notify_cursor", [sa.Column("name", T, primary_key=True), sa.Column("event_id", ID, nullable=False)], {}),
        ("notify_items", [
            _id(), sa.Column("event_id", ID, nullable=False), sa.Column("episode_id", ID),
            sa.Column("route", T, nullable=False), sa.Column("channel", T, nullable=False), sa.Column("kind", T),
            sa.Column("severity", T), sa.Column("created_at", T, nullable=False), sa.Column("due_at", T, nullable=False),
            sa.Column("status", T, nullable=False), sa.Column("message_id", ID), sa.Column("payload", T, nullable=False),
            sa.UniqueConstraint("event_id", "route", "channel")], {}),
        ("notify_messages", [
            _id(), sa.Column("route", T, nullable=False), sa.Column("channel", T, nullable=False),
            sa.Column("destination", T, nullable=False), sa.Column("created_at", T, nullable=False),
            sa.Column("items", sa.Integer, nullable=False), sa.Column("subject", T, nullable=False),
            sa.Column("body", T, nullable=False), sa.Column("status", T, nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("next_at", T, nullable=False), sa.Column("lease_until", T), sa.Column("sent_at", T),
            sa.Column("last_error", T)], {}),
        ("notify_log", [
            _id(), sa.Column("message_id", ID, nullable=False), sa.Column("at", T, nullable=False),
            sa.Column("attempt", sa.Integer, nullable=False), sa.Column("outcome", T, nullable=False),
            sa.Column("detail", T)], {}),
        # the shift log (data/shiftlog.py)
        ("shift_notes", [
            _id(), sa.Column("at", T, nullable=False), sa.Column("author", T, nullable=False),
            sa.Column("district_id", T), sa.Column("text", T, nullable=False)], {"sqlite_autoincrement": True}),
    ]


_WALL = ("screens_owned", [  # data/wall_screens.py; on SQLite in its own file wall_screens.sqlite
    sa.Column("screen_id", T, primary_key=True), sa.Column("owner", T, nullable=False), sa.Column("profile", T),
    sa.Column("view", T), sa.Column("width", sa.Integer), sa.Column("height", sa.Integer),
    sa.Column("refresh_s", sa.Integer), sa.Column("first_seen", T), sa.Column("last_ok", T),
    sa.Column("refreshes", sa.Integer, server_default="0")], {})

_INDEXES = [  # (name, table, columns, options)
    ("annotations_time", "annotations", ["starts_at", "ends_at"], {}),
    # at most one episode that is not resolved per metric x district x rule
    ("alert_episodes_live", "alert_episodes", ["metric_id", "district_id", "rule"],
     {"unique": True, "sqlite_where": sa.text("state != 'resolved'"),
      "postgresql_where": sa.text("state != 'resolved'")}),
    ("alert_episodes_state", "alert_episodes", ["state", "opened_at"], {}),
    ("alert_transitions_episode", "alert_transitions", ["episode_id", "id"], {}),
    ("sessions_subject", "sessions", ["kind", "subject"], {}),
    ("notify_items_pending", "notify_items", ["status", "route", "channel"], {}),
    ("notify_messages_due", "notify_messages", ["status", "next_at"], {}),
    ("shift_notes_at", "shift_notes", ["at"], {}),
]
_WALL_INDEXES = [("screens_owned_owner", "screens_owned", ["owner", "last_ok"], {})]


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    tables, indexes = _tables(), list(_INDEXES)
    if bind.dialect.name != "sqlite":
        tables.append(_WALL)
        indexes += _WALL_INDEXES
    for name, columns, options in tables:
        if name not in existing:
            op.create_table(name, *columns, **options)
    for name, table, columns, options in indexes:
        if name not in {ix["name"] for ix in sa.inspect(bind).get_indexes(table)}:
            op.create_index(name, table, columns, **options)


def downgrade() -> None:
    bind = op.get_bind()
    tables = _tables() + ([_WALL] if bind.dialect.name != "sqlite" else [])
    for name, _columns, _options in reversed(tables):
        op.drop_table(name)
