"""sent notices (out for delivery)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailer_sent_notices",
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "kind", name=op.f("pk_mailer_sent_notices")),
    )


def downgrade() -> None:
    op.drop_table("mailer_sent_notices")
