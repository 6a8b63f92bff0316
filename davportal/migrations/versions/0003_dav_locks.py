"""WebDAV locks in the database, shared by every node and worker

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dav_lock",
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("root", sa.String(length=2048), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("depth", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.LargeBinary(), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=False),
        sa.Column("timeout", sa.Float(), nullable=False),
        sa.Column("expire", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    op.create_index("ix_dav_lock_root", "dav_lock", ["root"])
    op.create_index("ix_dav_lock_expire", "dav_lock", ["expire"])


def downgrade() -> None:
    op.drop_table("dav_lock")
