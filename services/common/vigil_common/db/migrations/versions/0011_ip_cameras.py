"""ip_cameras: IP cameras the server captures itself (ONVIF / RTSP), credentials sealed

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 16:50:00
"""
from alembic import op
import sqlalchemy as sa

import vigil_common.db.models


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ip_cameras',
        sa.Column('camera_id', sa.String(length=32), primary_key=True),
        sa.Column('stream_uri', sa.Text(), nullable=False),
        sa.Column('credentials', sa.Text(), nullable=True),
        sa.Column('onvif_xaddr', sa.Text(), nullable=True),
        sa.Column('onvif_urn', sa.String(length=256), nullable=True),
        sa.Column('profile_token', sa.String(length=64), nullable=True),
        sa.Column('profile', sa.Text(), nullable=True),
        sa.Column('manufacturer', sa.String(length=128), nullable=False),
        sa.Column('model', sa.String(length=128), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', vigil_common.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', vigil_common.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('ip_cameras')
