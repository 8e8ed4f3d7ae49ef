"""webhook_deliveries: the event webhooks' outbox and delivery log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:20:00
"""
from alembic import op
import sqlalchemy as sa

import vigil_common.db.models


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
        sa.Column('created_at', vigil_common.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('event_id', sa.String(length=32), nullable=False),
        sa.Column('event', sa.String(length=32), nullable=False),
        sa.Column('camera_id', sa.String(length=32), nullable=True),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('next_attempt_at', vigil_common.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', vigil_common.db.models.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_webhook_deliveries_created', 'webhook_deliveries', ['created_at'])
    op.create_index('ix_webhook_deliveries_status_next', 'webhook_deliveries', ['status', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_webhook_deliveries_status_next', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_created', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
