# Evidence pieces replace the item's evidence links (issue 11); 0008 and 0011 made the pieces.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0011_evidence_from_late_links"),
    ]

    operations = [
        # Going back restores an empty field: the links live on as pieces.
        migrations.RemoveField(
            model_name="historicaltrackeditem",
            name="evidence_links",
        ),
        migrations.RemoveField(
            model_name="trackeditem",
            name="evidence_links",
        ),
    ]
