"""compute tables: flavors, flavor_projects, images, quota_usages, compute_nodes,
server_groups, servers; seed the m1.* flavors

Revision ID: 0002_compute
Revises: 0001
Create Date: 2026-11-24
"""
from datetime import datetime, timezone
import uuid

from alembic import op
import sqlalchemy as sa

revision = '0002_compute'
down_revision = '0001'
branch_labels = None
depends_on = None

# name, vcpus, ram MB, root GB (nova's classic m1 family)
DEFAULT_FLAVORS = [("m1.tiny", 1, 512, 1), ("m1.small", 1, 2048, 20),
                   ("m1.medium", 2, 4096, 40), ("m1.large", 4, 8192, 80),
                   ("m1.xlarge", 8, 16384, 160)]


def upgrade() -> None:
    flavors = op.create_table(
        'flavors',
        sa.Column('id', sa.String(32), nullable=False),
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('vcpus', sa.Integer(), nullable=False),
        sa.Column('ram_mb', sa.Integer(), nullable=False),
        sa.Column('root_gb', sa.Integer(), nullable=False),
        sa.Column('ephemeral_gb', sa.Integer(), nullable=False),
        sa.Column('swap_mb', sa.Integer(), nullable=False),
        sa.Column('extra_specs', sa.JSON(), nullable=False),
        sa.Column('public', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_flavors')),
        sa.UniqueConstraint('name', name=op.f('uq_flavors_name')))
    op.create_table(
        'flavor_projects',
        sa.Column('flavor_id', sa.String(32), nullable=False),
        sa.Column('project_id', sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(['flavor_id'], ['flavors.id'], ondelete='CASCADE',
                                name=op.f('fk_flavor_projects_flavor_id_flavors')),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE',
                                name=op.f('fk_flavor_projects_project_id_projects')),
        sa.PrimaryKeyConstraint('flavor_id', 'project_id', name=op.f('pk_flavor_projects')))
    op.create_table(
        'images',
        sa.Column('id', sa.String(32), nullable=False),
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('disk_format', sa.String(16), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('virtual_size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('checksum', sa.String(64), nullable=True),
        sa.Column('min_ram_mb', sa.Integer(), nullable=False),
        sa.Column('min_disk_gb', sa.Integer(), nullable=False),
        sa.Column('properties', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('project_id', sa.String(32), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_images')),
        sa.UniqueConstraint('name', name=op.f('uq_images_name')))
    op.create_table(
        'quota_usages',
        sa.Column('project_id', sa.String(32), nullable=False),
        sa.Column('resource', sa.String(32), nullable=False),
        sa.Column('hard_limit', sa.Integer(), nullable=True),
        sa.Column('in_use', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE',
                                name=op.f('fk_quota_usages_project_id_projects')),
        sa.PrimaryKeyConstraint('project_id', 'resource', name=op.f('pk_quota_usages')))
    op.create_table(
        'compute_nodes',
        sa.Column('host', sa.String(64), nullable=False),
        sa.Column('az', sa.String(64), nullable=False),
        sa.Column('vcpus', sa.Integer(), nullable=False),
        sa.Column('memory_mb', sa.Integer(), nullable=False),
        sa.Column('disk_gb', sa.Integer(), nullable=False),
        sa.Column('cpu_allocation_ratio', sa.Float(), nullable=False),
        sa.Column('ram_allocation_ratio', sa.Float(), nullable=False),
        sa.Column('disk_allocation_ratio', sa.Float(), nullable=False),
        sa.Column('reserved_host_memory_mb', sa.Integer(), nullable=False),
        sa.Column('reserved_host_disk_gb', sa.Integer(), nullable=False),
        sa.Column('vcpus_used', sa.Integer(), nullable=False),
        sa.Column('memory_mb_used', sa.Integer(), nullable=False),
        sa.Column('disk_gb_used', sa.Float(), nullable=False),
        sa.Column('num_instances', sa.Integer(), nullable=False),
        sa.Column('unmanaged_vcpus', sa.Integer(), nullable=False),
        sa.Column('unmanaged_memory_mb', sa.Integer(), nullable=False),
        sa.Column('unmanaged_disk_gb', sa.Float(), nullable=False),
        sa.Column('unmanaged_instances', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('disabled_reason', sa.String(255), nullable=True),
        sa.Column('hypervisor_type', sa.String(32), nullable=False),
        sa.Column('hypervisor_version', sa.Integer(), nullable=True),
        sa.Column('arch', sa.String(32), nullable=False),
        sa.Column('capabilities', sa.JSON(), nullable=False),
        sa.Column('aggregates', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('host', name=op.f('pk_compute_nodes')))
    op.create_table(
        'server_groups',
        sa.Column('id', sa.String(32), nullable=False),
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('policy', sa.String(16), nullable=False),
        sa.Column('project_id', sa.String(32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE',
                                name=op.f('fk_server_groups_project_id_projects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_server_groups')))
    op.create_table(
        'servers',
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('host', sa.String(64), nullable=True),
        sa.Column('project_id', sa.String(32), nullable=True),
        sa.Column('user_id', sa.String(32), nullable=True),
        sa.Column('flavor', sa.String(64), nullable=True),
        sa.Column('image', sa.String(64), nullable=True),
        sa.Column('group_id', sa.String(32), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('fault', sa.Text(), nullable=True),
        sa.Column('vcpus', sa.Integer(), nullable=False),
        sa.Column('memory_mb', sa.Integer(), nullable=False),
        sa.Column('disk_gb', sa.Float(), nullable=False),
        sa.Column('root_gb', sa.Integer(), nullable=False),
        sa.Column('volume', sa.String(255), nullable=True),
        sa.Column('claimed', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('deleted_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['group_id'], ['server_groups.id'], ondelete='SET NULL',
                                name=op.f('fk_servers_group_id_server_groups')),
        sa.PrimaryKeyConstraint('uuid', name=op.f('pk_servers')))
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_servers_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_servers_host'), ['host'], unique=False)
        batch_op.create_index(batch_op.f('ix_servers_project_id'), ['project_id'],
                              unique=False)

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(flavors, [
        {"id": uuid.uuid4().hex, "name": name, "vcpus": vcpus, "ram_mb": ram,
         "root_gb": root, "ephemeral_gb": 0, "swap_mb": 0, "extra_specs": {},
         "public": True, "created_at": now}
        for name, vcpus, ram, root in DEFAULT_FLAVORS])


def downgrade() -> None:
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_servers_project_id'))
        batch_op.drop_index(batch_op.f('ix_servers_host'))
        batch_op.drop_index(batch_op.f('ix_servers_name'))
    op.drop_table('servers')
    op.drop_table('server_groups')
    op.drop_table('compute_nodes')
    op.drop_table('quota_usages')
    op.drop_table('images')
    op.drop_table('flavor_projects')
    op.drop_table('flavors')
