"""``manage.py refit_reliability``: fit every vetter's reliability now and recompute the consensus."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from vetting.reviews import services


class Command(BaseCommand):
    help = "Fit each vetter's confusion matrix (Dawid-Skene) over all labels and recompute the consensus."

    def add_arguments(self, parser):
        parser.add_argument("--no-recompute", action="store_true", help="store the fit, leave the consensus as is")

    def handle(self, *args, no_recompute: bool = False, **options):
        summary = services.reliability_refit(recompute=not no_recompute)
        self.stdout.write(
            f"reliability fit #{summary['fit_id']}: {summary['n_labels']} labels of {summary['n_vetters']} vetters on "
            f"{summary['n_items']} candidates ({summary['n_fixed']} with a known answer), {summary['n_iter']} EM "
            f"iterations; consensus recomputed for {summary['recomputed']}")
