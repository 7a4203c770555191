"""kitchen tickets and steps

Revision ID: 0001
Revises:
Create Date: 2026-12-02 04:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kitchen_tickets",
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_kitchen_tickets")),
    )
    op.create_index(op.f("ix_kitchen_tickets_restaurant_id"), "kitchen_tickets", ["restaurant_id"])
    op.create_index(op.f("ix_kitchen_tickets_confirmed_at"), "kitchen_tickets", ["confirmed_at"])
    op.create_table(
        "kitchen_steps",
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "step", name=op.f("pk_kitchen_steps")),
    )


def downgrade() -> None:
    op.drop_table("kitchen_steps")
    op.drop_index(op.f("ix_kitchen_tickets_confirmed_at"), table_name="kitchen_tickets")
    op.drop_index(op.f("ix_kitchen_tickets_restaurant_id"), table_name="kitchen_tickets")
    op.drop_table("kitchen_tickets")
