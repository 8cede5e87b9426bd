"""Rows for storage tests: alarms, history entries and deliveries."""

import datetime
import uuid

import sqlalchemy as sa

from doctor.db import api as db_api
from doctor.db.sqlalchemy import models

T0 = datetime.datetime(2024, 5, 1, 10, 0, 0)
PROJECT_ID = '6f1c3e0d8a7b4c2e9f1a0b3c4d5e6f70'
USER_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
RULE = {'event_type': 'compute.instance.update',
        'query': [{'field': 'traits.state', 'op': 'eq', 'value': 'error',
                   'type': 'string'}]}


def alarm_values(**overrides) -> dict:
    """Every column of a notification alarm; ``overrides`` win."""
    values = {
        'alarm_id': str(uuid.uuid4()), 'name': 'InstanceStatusAlarm',
        'description': 'An alarm', 'type': 'notification', 'enabled': True,
        'severity': 'moderate', 'project_id': PROJECT_ID,
        'user_id': USER_ID,
        'resource_id': '5d9a6f0e-7b1c-4a55-9d0e-0f3b1c2d4e01',
        'rule': RULE, 'alarm_actions': ['test://alarm'],
        'ok_actions': ['test://ok'],
        'insufficient_data_actions': ['test://nodata'],
        'repeat_actions': False, 'state': 'ok',
        'state_reason': 'Not evaluated yet', 'state_timestamp': T0,
        'timestamp': T0, 'deadline': None, 'infrastructure': False,
    }
    values.update(overrides)
    return values


def change_values(alarm_id: str, change_type=db_api.CHANGE_CREATION,
                  **overrides) -> dict:
    """A history entry of ``alarm_id``; ``overrides`` win."""
    values = {
        'event_id': str(uuid.uuid4()), 'alarm_id': alarm_id,
        'on_behalf_of': PROJECT_ID, 'project_id': PROJECT_ID,
        'user_id': USER_ID, 'type': change_type, 'detail': '{}',
        'severity': 'moderate', 'timestamp': T0,
    }
    values.update(overrides)
    return values


def create_alarm(db: db_api.Connection, **overrides) -> dict:
    """Store an alarm with its creation entry; returns its values."""
    alarm = alarm_values(**overrides)
    db.create_alarm(alarm, change_values(alarm['alarm_id'],
                                         timestamp=alarm['timestamp']))
    return alarm


def delivery_values(alarm_id: str, action='test://alarm',
                    claimed_at=T0, **overrides) -> dict:
    """A stored delivery of ``alarm_id``; ``overrides`` win."""
    values = {
        'delivery_id': str(uuid.uuid4()), 'alarm_id': alarm_id,
        'action': action, 'firing': {'doctor_object.name': 'AlarmFiring'},
        'created_at': claimed_at, 'claimed_at': claimed_at,
        'attempts': 0, 'next_attempt_at': None,
    }
    values.update(overrides)
    return values


def stored_deliveries(db) -> list[dict]:
    """Every stored delivery, read straight from the table."""
    table = models.AlarmDelivery.__table__
    with db.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table).order_by(table.c.created_at,
                                      table.c.delivery_id)).mappings()
        return [dict(row) for row in rows]
