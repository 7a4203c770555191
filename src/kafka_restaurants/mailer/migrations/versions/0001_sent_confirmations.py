"""sent confirmations

Revision ID: 0001
Revises:
Create Date: 2026-11-26 13:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailer_sent_confirmations",
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=400), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_mailer_sent_confirmations")),
    )


def downgrade() -> None:
    op.drop_table("mailer_sent_confirmations")
