"""Let catalogue editors add, change, delete and view obligations, as they do milestones."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Catalogue editors"
CODENAMES = ["add_obligation", "change_obligation", "delete_obligation", "view_obligation"]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="catalogue", codename__in=CODENAMES)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="catalogue", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0008_obligations")]

    operations = [migrations.RunPython(grant, revoke)]
