"""volumes: project ownership of storage volumes (counted in the volumes/gigabytes quota)

Revision ID: 0003_volumes
Revises: 0002_compute
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = '0003_volumes'
down_revision = '0002_compute'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'volumes',
        sa.Column('id', sa.String(32), nullable=False),
        sa.Column('host', sa.String(64), nullable=False),
        sa.Column('pool', sa.String(64), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('key', sa.String(1024), nullable=True),
        sa.Column('path', sa.String(1024), nullable=True),
        sa.Column('project_id', sa.String(32), nullable=False),
        sa.Column('user_id', sa.String(32), nullable=True),
        sa.Column('size_gb', sa.Integer(), nullable=False),
        sa.Column('format', sa.String(16), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        # no ON DELETE: a project that owns volumes cannot be deleted
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                                name=op.f('fk_volumes_project_id_projects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_volumes')),
        sa.UniqueConstraint('host', 'pool', 'name', name='uq_volumes_host_pool_name'))
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volumes_host'), ['host'], unique=False)
        batch_op.create_index(batch_op.f('ix_volumes_project_id'), ['project_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volumes_project_id'))
        batch_op.drop_index(batch_op.f('ix_volumes_host'))
    op.drop_table('volumes')
