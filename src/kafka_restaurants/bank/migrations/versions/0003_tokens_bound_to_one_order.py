"""tokens bound to one order: reference, amount cap and currency, expiry, single use

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:30:00.000000

Tokens made before this revision were bound to nothing, so they are as good as cash: they come
out expired (expires_at = created_at) and bound to no order, and any charge with them is
declined `token_expired`. Charges already made with them are kept and still replay.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_tokens") as batch:
        batch.add_column(
            sa.Column("reference", sa.String(length=200), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("max_amount", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("currency", sa.String(length=3), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("used_by", sa.String(length=255), nullable=True))
    op.execute("UPDATE bank_tokens SET expires_at = created_at")
    with op.batch_alter_table("bank_tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        # The defaults only filled the rows that existed; new tokens always say what they pay.
        batch.alter_column("reference", existing_type=sa.String(length=200), server_default=None)
        batch.alter_column("max_amount", existing_type=sa.BigInteger(), server_default=None)
        batch.alter_column("currency", existing_type=sa.String(length=3), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("bank_tokens") as batch:
        batch.drop_column("used_by")
        batch.drop_column("expires_at")
        batch.drop_column("currency")
        batch.drop_column("max_amount")
        batch.drop_column("reference")
