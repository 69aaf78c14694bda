"""``manage.py inject_known_answers [--n 20] [--seed 0] [--snr-min 5] [--snr-max 60] [--top-up]``."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from vetting.reviews import known_answers


class Command(BaseCommand):
    help = ("Make known-answer candidates: simulated planets and eclipsing binaries injected into stored "
            "light curves (real ones first), mixed into vetters' queues at VETTING_KNOWN_ANSWER_SHARE.")

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, default=20, help="candidates to inject")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--snr-min", type=float, default=known_answers.SNR_RANGE[0])
        parser.add_argument("--snr-max", type=float, default=known_answers.SNR_RANGE[1])
        parser.add_argument("--planet-share", type=float, default=known_answers.PLANET_SHARE,
                            help="share of planets (the rest are eclipsing binaries)")
        parser.add_argument("--top-up", action="store_true", help="only as many as are missing to have --n")

    def handle(self, *args, **opts):
        if not 0 <= opts["planet_share"] <= 1:
            raise CommandError("--planet-share must be between 0 and 1")
        try:
            counts = known_answers.known_answers_inject(
                n=opts["n"], seed=opts["seed"], planet_share=opts["planet_share"],
                snr_range=(opts["snr_min"], opts["snr_max"]), top_up=opts["top_up"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        made = counts.get("known_answers_injected", 0)
        self.stdout.write(f"{made} known-answer candidates injected"
                          + (f" ({counts['known_answers_existing']} existed)" if counts.get("known_answers_existing")
                             else "")
                          + (f"; {counts['known_answers_failed']} light curves could not carry one"
                             if counts.get("known_answers_failed") else ""))
        if made < opts["n"] and not opts["top_up"]:
            self.stderr.write("fewer than asked: not enough stored light curves (import some, or load the demo)")
