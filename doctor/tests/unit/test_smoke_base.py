from doctor.tests import base


class TestDBFixture(base.DBTestCase):

    def test_schema_is_at_head(self):
        from doctor.db.sqlalchemy import migration
        self.assertEqual(migration.head(), self.db.schema_version())
