"""object_events: what the detector saw (label, score, close-up, box track)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:30:00
"""
from alembic import op
import sqlalchemy as sa
import vigil_common.db.models


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('object_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('camera_id', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('start', vigil_common.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', vigil_common.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('closeup_path', sa.Text(), nullable=True),
    sa.Column('track', sa.Text(), nullable=False),
    sa.Column('zones', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_object_events'))
    )
    op.create_index('ix_object_events_camera_start', 'object_events', ['camera_id', 'start'], unique=False)
    op.create_index('ix_object_events_label_start', 'object_events', ['label', 'start'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_object_events_label_start', table_name='object_events')
    op.drop_index('ix_object_events_camera_start', table_name='object_events')
    op.drop_table('object_events')
