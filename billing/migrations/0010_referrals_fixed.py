"""A referral is fixed once written: no UPDATE or DELETE of it in the database itself, whoever asks."""

from collections.abc import Callable

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CREATE = """
CREATE FUNCTION billing_referral_fixed() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a referral is fixed at sign-up: it is never changed or removed';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_referral_fixed BEFORE UPDATE OR DELETE ON billing_referral
    FOR EACH ROW EXECUTE FUNCTION billing_referral_fixed();
"""
DROP = """
DROP TRIGGER IF EXISTS billing_referral_fixed ON billing_referral;
DROP FUNCTION IF EXISTS billing_referral_fixed();
"""


def _on_postgres(sql: str) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("billing", "0009_affiliates")]

    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]
