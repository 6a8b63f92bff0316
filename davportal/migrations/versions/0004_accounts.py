"""Display names, last sign-in, one-time account links (invitations, resets), archived clients

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_client_archived_at", ["archived_at"])
    op.create_table(
        "account_link",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("login", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["login"], ["account.login"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_account_link_login", "account_link", ["login"])


def downgrade() -> None:
    op.drop_table("account_link")
    with op.batch_alter_table("client") as batch:
        batch.drop_index("ix_client_archived_at")
        batch.drop_column("archived_at")
    with op.batch_alter_table("account") as batch:
        batch.drop_column("last_sign_in_at")
        batch.drop_column("name")
