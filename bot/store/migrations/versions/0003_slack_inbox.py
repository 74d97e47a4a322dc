"""Inbox: the sender's team (Slack Connect), and whether a mention's twin event is still awaited.

Revision ID: 0003_slack_inbox
Revises: 0002_durability
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_slack_inbox"
down_revision = "0002_durability"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        # NULL for rows stored before: the bot's own workspace, as before.
        batch.add_column(sa.Column("user_team", sa.String(32)))
        batch.add_column(sa.Column("awaiting_twin", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("awaiting_twin")
        batch.drop_column("user_team")
