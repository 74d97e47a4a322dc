"""Durability: turns suspended by a clean shutdown are resumed; their last response's stop reason.

Revision ID: 0002_durability
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_durability"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why the turn's last saved response stopped (`pause_turn`, `tool_use`, `end_turn`...): a turn
    # resumed after a restart goes on from there (run the tools, continue, or only finish).
    op.add_column("turns", sa.Column("stop_reason", sa.String(32)))


def downgrade() -> None:
    op.drop_column("turns", "stop_reason")
