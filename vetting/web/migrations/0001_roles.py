"""Create the role groups (vetter, curator, admin) with their model permissions."""
from django.contrib.auth.management import create_permissions
from django.db import migrations

VETTER_PERMS = [
    "candidates.view_target", "candidates.view_candidate", "candidates.view_lightcurve",
    "reviews.view_label", "reviews.add_label", "reviews.view_dispute", "reviews.add_dispute",
    "reviews.view_disputecomment", "reviews.add_disputecomment", "reviews.view_consensus",
    "learning.view_classifierversion", "learning.view_prediction", "learning.view_trainingrun",
    "learning.view_queueentry",
]
CURATOR_PERMS = VETTER_PERMS + [
    "candidates.change_candidate", "candidates.view_importjob", "candidates.add_importjob",
    "candidates.add_candidate", "candidates.add_target", "candidates.add_lightcurve",
    "reviews.change_label", "reviews.change_dispute", "reviews.change_consensus",
    "learning.add_trainingrun", "learning.view_mislabelflag", "learning.change_mislabelflag",
    "learning.change_classifierversion",
]


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def perms(names):
        found = []
        for name in names:
            app_label, codename = name.split(".")
            found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return found

    vetter, _ = Group.objects.get_or_create(name="vetter")
    vetter.permissions.set(perms(VETTER_PERMS))
    curator, _ = Group.objects.get_or_create(name="curator")
    curator.permissions.set(perms(CURATOR_PERMS))
    admin, _ = Group.objects.get_or_create(name="admin")
    admin.permissions.set(Permission.objects.filter(content_type__app_label__in=["candidates", "reviews", "learning", "authtoken", "auth"]))


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("candidates", "0001_initial"),
        ("reviews", "0001_initial"),
        ("learning", "0001_initial"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
