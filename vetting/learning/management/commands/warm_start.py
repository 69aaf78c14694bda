"""``manage.py warm_start --from-views DIR [--split train]`` or ``--from-table FILE``: install a
base model trained on public labels (``vetting.learning.services.warm_start``)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from vetting.learning.services.warm_start import base_model_install


class Command(BaseCommand):
    help = ("Train a base model on public labels (an Astronet-Triage-style views bundle or a NASA "
            "Exoplanet Archive TCE/KOI/TOI table) and install it as the starting model.")

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--from-views", metavar="DIR", help="directory with candidates.csv + views.npz")
        source.add_argument("--from-table", metavar="FILE",
                            help="archive CSV: DR24/DR25 TCEs (av_training_set), KOI cumulative, TOI")
        parser.add_argument("--split", default=None, help="views bundle: only rows of this split (e.g. train)")
        parser.add_argument("--replace-active", action="store_true",
                            help="install it even though a model is active")
        parser.add_argument("--profile", choices=["fast", "full"], default=None)

    def handle(self, *args, from_views, from_table, split, replace_active, profile, **options):
        path = from_views or from_table
        try:
            version = base_model_install(path=path, split=split, replace_active=replace_active, profile=profile)
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        m = version.metrics
        self.stdout.write(f"{version.name}: {version.n_labels} public labels; cross-validated planet AP "
                          f"{m.get('planet_ap')}, triage AP {m.get('triage_ap')}, ECE {m.get('ece')}")
        self.stdout.write(self.style.SUCCESS(f"{version.get_status_display()}: {version.decision_reason}"))
