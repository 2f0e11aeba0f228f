"""one-time form tokens: no double writes from a browser

Revision ID: b2d5f1c8e302
Revises: a1c4e0b7d201
Create Date: 2026-12-02 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import rewards.models.types


# revision identifiers, used by Alembic.
revision = 'b2d5f1c8e302'
down_revision = 'a1c4e0b7d201'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('form_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('form', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('result_url', sa.String(length=300), nullable=True),
    sa.Column('sealed_secret', sa.Text(), nullable=True),
    sa.Column('created_at', rewards.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_form_tokens_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_tokens')),
    sa.UniqueConstraint('nonce', name=op.f('uq_form_tokens_nonce'))
    )
    with op.batch_alter_table('form_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_tokens_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_form_tokens_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('form_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_tokens_created_at'))
        batch_op.drop_index(batch_op.f('ix_form_tokens_account_id'))

    op.drop_table('form_tokens')
