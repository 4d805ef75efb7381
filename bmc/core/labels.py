"""A migration operation for what only people read: a field's verbose_name, help_text or its
choices' labels. Django's AlterField renders every related model again for each field it
changes (a label on `tenant` re-rendered every model of the project), which made walking the
migrations minutes slower once every field got a Spanish label; this one changes the migration
state alone. No SQL ever runs for it: a label is not in the database.

Use it only where the field's type, column, null, default and constraints stay as they were
(`manage.py sqlmigrate` of the migration prints no statement); makemigrations writes AlterField,
which is changed to this by hand."""

from __future__ import annotations

from django.db import migrations


class AlterLabels(migrations.AlterField):
    def state_forwards(self, app_label, state):
        # the model's state holds the new labels; models already rendered keep the old ones,
        # which nothing a migration does reads
        state.models[app_label, self.model_name_lower].fields[self.name] = self.field

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        pass

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass

    def describe(self):
        return f"Change the labels of {self.model_name}.{self.name}"
