"""The index PostgreSQL's Spanish full-text search of messages reads (bmc/core/search.py builds
the same expression: to_tsvector('spanish', COALESCE(text, ''))). SQLite has none: its search
reads the messages."""

from django.db import migrations

INDEX = "core_message_text_search_es"


def index_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON core_message "
            "USING gin (to_tsvector('spanish'::regconfig, COALESCE(text, '')))"
        )


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("workspace", "0001_staff_members_and_reads")]

    operations = [migrations.RunPython(index_create, index_drop)]
