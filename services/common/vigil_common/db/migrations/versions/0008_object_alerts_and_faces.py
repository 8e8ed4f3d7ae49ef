"""cameras.notify_objects (the object labels a camera e-mails about, JSON list) and
cameras.detect_faces; object_events.face_path (the best face close-up of a person) and an index
for "recordings with a person" (camera, label, start)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cameras') as batch:
        batch.add_column(sa.Column('notify_objects', sa.Text(), nullable=True))
        batch.add_column(sa.Column('detect_faces', sa.Boolean(), server_default='0', nullable=False))
    with op.batch_alter_table('object_events') as batch:
        batch.add_column(sa.Column('face_path', sa.Text(), nullable=True))
    op.create_index('ix_object_events_camera_label_start', 'object_events', ['camera_id', 'label', 'start'])


def downgrade() -> None:
    op.drop_index('ix_object_events_camera_label_start', table_name='object_events')
    with op.batch_alter_table('object_events') as batch:
        batch.drop_column('face_path')
    with op.batch_alter_table('cameras') as batch:
        batch.drop_column('detect_faces')
        batch.drop_column('notify_objects')
