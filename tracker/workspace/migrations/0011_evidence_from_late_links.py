# Links written after 0008 ran (the item form kept its evidence links box until now) become
# evidence pieces, by 0008's own function: it skips what it already made, so nothing doubles.
# The next migration then removes the field (apart, so that PostgreSQL never alters a table
# with the new rows' constraint checks still pending).

from importlib import import_module

from django.db import migrations

links_to_pieces = import_module(
    "tracker.workspace.migrations.0008_evidence_from_links"
).links_to_pieces


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0010_evidence_expiry_setting"),
    ]

    operations = [
        migrations.RunPython(links_to_pieces, migrations.RunPython.noop),
    ]
