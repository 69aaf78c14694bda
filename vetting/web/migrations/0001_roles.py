"""Create the role groups (vetter, curator, admin) with their model permissions."""
from django.db import migrations

from vetting.core.roles import ensure_role_groups


def create_roles(apps, schema_editor):
    ensure_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("candidates", "0001_initial"),
        ("reviews", "0001_initial"),
        ("learning", "0001_initial"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
