"""Document requests: requests, their items and contacts; the request folders' facts; request notices

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("request_folders", sa.JSON(), nullable=True))
    with op.batch_alter_table("notice") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
    op.create_table(
        "document_request",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("for_types", sa.JSON(), nullable=False),
        sa.Column("reminders", sa.JSON(), nullable=True),
        sa.Column("folder", sa.String(length=1024), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=128), nullable=True),
        sa.Column("next_reminder_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("last_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("items_total", sa.Integer(), nullable=False),
        sa.Column("items_uploaded", sa.Integer(), nullable=False),
        sa.Column("items_accepted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_document_request_client_id", "document_request", ["client_id"])
    op.create_index("ix_document_request_next_reminder_at", "document_request", ["next_reminder_at"])
    op.create_index("ix_request_outstanding", "document_request", ["status", sa.text("(due_on IS NULL)"), "due_on", "id"])
    op.create_table(
        "request_item",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("files_expected", sa.Integer(), nullable=True),
        sa.Column("folder", sa.String(length=1024), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uploaded_by", sa.String(length=128), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=128), nullable=True),
        sa.Column("rejected_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["document_request.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_request_item_request_id", "request_item", ["request_id"])
    op.create_table(
        "request_contact",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["login"], ["account.login"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["request_id"], ["document_request.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("request_id", "login"),
    )
    op.create_index("ix_request_contact_login", "request_contact", ["login"])


def downgrade() -> None:
    op.drop_table("request_contact")
    op.drop_table("request_item")
    op.drop_table("document_request")
    with op.batch_alter_table("notice") as batch:
        batch.drop_column("request_id")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("request_folders")
