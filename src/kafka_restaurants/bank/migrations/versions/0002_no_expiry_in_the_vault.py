"""no expiry dates in the token vault: they are checked when a card is tokenized, never stored

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_tokens") as batch:
        batch.drop_column("exp_month")
        batch.drop_column("exp_year")


def downgrade() -> None:
    # The dates are gone; old rows come back with 0 (the columns were never read).
    with op.batch_alter_table("bank_tokens") as batch:
        batch.add_column(sa.Column("exp_month", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("exp_year", sa.Integer(), nullable=False, server_default="0"))
