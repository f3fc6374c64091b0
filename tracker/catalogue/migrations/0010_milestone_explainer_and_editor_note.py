"""Split a milestone's `notes` in two: the editors' note (where every existing note goes, as it
was written for editors) and a public, plain-language `explainer`, empty until a pack or an
editor writes one. Editors' notes also leave the public change log (`MilestoneChange.changes`),
and pack records and open conflicts follow the field's new name."""

import django.core.validators
from django.db import migrations, models

OLD, NEW = "notes", "editor_note"


def forwards(apps, schema_editor):
    MilestoneChange = apps.get_model("catalogue", "MilestoneChange")
    PackRecord = apps.get_model("catalogue", "PackRecord")
    PackConflict = apps.get_model("catalogue", "PackConflict")
    for change in MilestoneChange.objects.filter(changes__has_key=OLD).iterator():
        change.changes.pop(OLD, None)
        change.save(update_fields=["changes"])
    for record in PackRecord.objects.filter(kind="milestone", values__has_key=OLD).iterator():
        record.values[NEW] = record.values.pop(OLD)
        record.save(update_fields=["values"])
    PackConflict.objects.filter(kind="milestone", field=OLD).update(field=NEW)


def backwards(apps, schema_editor):
    PackRecord = apps.get_model("catalogue", "PackRecord")
    PackConflict = apps.get_model("catalogue", "PackConflict")
    for record in PackRecord.objects.filter(kind="milestone", values__has_key=NEW).iterator():
        record.values[OLD] = record.values.pop(NEW)
        record.values.pop("explainer", None)
        record.save(update_fields=["values"])
    PackConflict.objects.filter(kind="milestone", field=NEW).update(field=OLD)


EXPLAINER_HELP = (
    "What this means, in plain language: public, shown on the timeline and the milestone's "
    "page. Only what the entry already says; no new dates or law."
)
EDITOR_NOTE_HELP = (
    "For editors: sources, checks, caveats. Never shown on public pages or in the API."
)


def explainer():
    return models.TextField(
        blank=True,
        max_length=600,
        validators=[django.core.validators.MaxLengthValidator(600)],
        help_text=EXPLAINER_HELP,
    )


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0009_editors_edit_obligations")]

    operations = [
        migrations.RenameField(model_name="milestone", old_name=OLD, new_name=NEW),
        migrations.RenameField(model_name="historicalmilestone", old_name=OLD, new_name=NEW),
        migrations.AlterField(
            model_name="milestone",
            name=NEW,
            field=models.TextField(blank=True, help_text=EDITOR_NOTE_HELP),
        ),
        migrations.AlterField(
            model_name="historicalmilestone",
            name=NEW,
            field=models.TextField(blank=True, help_text=EDITOR_NOTE_HELP),
        ),
        migrations.AddField(model_name="milestone", name="explainer", field=explainer()),
        migrations.AddField(model_name="historicalmilestone", name="explainer", field=explainer()),
        migrations.RunPython(forwards, backwards),
    ]
