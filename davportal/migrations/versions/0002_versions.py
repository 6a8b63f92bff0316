"""Earlier versions of files

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("written_in", sa.String(length=1024), nullable=False),
        sa.Column("stored_as", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha1", sa.String(length=40), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("written_by", sa.String(length=128), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_by", sa.String(length=128), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trash_item_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_version_document", "version", ["client_id", "path"])
    op.create_index("ix_version_replaced_at", "version", ["replaced_at"])
    op.create_index("ix_version_trash_item_id", "version", ["trash_item_id"])


def downgrade() -> None:
    op.drop_table("version")
