"""Let catalogue editors see the change log and its receipts, and resolve pack conflicts."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Catalogue editors"
GRANTS = {
    "milestonechange": ["view"],
    "changereceipt": ["view"],
    "packconflict": ["view", "change"],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    codenames = [f"{action}_{model}" for model, actions in GRANTS.items() for action in actions]
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="catalogue", codename__in=codenames)
    )


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0003_changes_and_pack_records")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
