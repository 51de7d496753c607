"""An e-mail address per user (issue 17): the weekly district briefing is mailed to the
district's officials (``python -m data.briefing email USER ADDRESS`` sets it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

T = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    if "email" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("users")}:
        op.add_column("users", sa.Column("email", T))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
