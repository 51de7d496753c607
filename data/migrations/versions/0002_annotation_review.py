"""Annotations that can be edited, deleted and made public (issue 17): who changed an
annotation and when, a soft delete, the author's request to show it on the public site and an
admin's review of that request; and the audit trail of every change (``annotation_audit``).

Columns an older file already has (an ``ops.sqlite`` from a build that added them by ALTER)
are left as they are.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

T = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

COLUMNS = (
    ("updated_at", lambda: sa.Column("updated_at", T)),
    ("updated_by", lambda: sa.Column("updated_by", T)),
    ("deleted_at", lambda: sa.Column("deleted_at", T)),
    ("deleted_by", lambda: sa.Column("deleted_by", T)),
    ("public", lambda: sa.Column("public", sa.Integer, nullable=False, server_default="0")),
    # none | pending | approved | rejected
    ("review", lambda: sa.Column("review", T, nullable=False, server_default="none")),
    ("reviewed_by", lambda: sa.Column("reviewed_by", T)),
    ("reviewed_at", lambda: sa.Column("reviewed_at", T)),
)


def upgrade() -> None:
    bind = op.get_bind()
    have = {c["name"] for c in sa.inspect(bind).get_columns("annotations")}
    for name, column in COLUMNS:
        if name not in have:
            op.add_column("annotations", column())
    if "annotation_audit" not in set(sa.inspect(bind).get_table_names()):
        op.create_table(
            "annotation_audit",
            sa.Column("id", ID, primary_key=True, autoincrement=True),
            sa.Column("annotation_id", ID, nullable=False), sa.Column("at", T, nullable=False),
            sa.Column("actor", T, nullable=False), sa.Column("action", T, nullable=False),
            sa.Column("before", T), sa.Column("after", T),
            sqlite_autoincrement=True)
    if "annotation_audit_note" not in {ix["name"] for ix in sa.inspect(bind).get_indexes("annotation_audit")}:
        op.create_index("annotation_audit_note", "annotation_audit", ["annotation_id", "id"])


def downgrade() -> None:
    op.drop_table("annotation_audit")
    with op.batch_alter_table("annotations") as batch:
        for name, _column in reversed(COLUMNS):
            batch.drop_column(name)
