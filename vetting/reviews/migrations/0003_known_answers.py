import django.db.models.deletion
from django.db import migrations, models


def gold_known_answers(apps, schema_editor):
    """Known-answer candidates chosen before this migration (curator gold) get their row."""
    CandidateReview = apps.get_model("reviews", "CandidateReview")
    Consensus = apps.get_model("reviews", "Consensus")
    KnownAnswer = apps.get_model("reviews", "KnownAnswer")
    ids = CandidateReview.objects.filter(is_known_answer=True).values_list("candidate_id", flat=True)
    truth = dict(Consensus.objects.filter(candidate_id__in=ids).values_list("candidate_id", "label_class"))
    KnownAnswer.objects.bulk_create([KnownAnswer(candidate_id=pk, source="gold", true_class=cls)
                                     for pk, cls in truth.items()], ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('candidates', '0004_import_job_liveness_and_retention'),
        ('reviews', '0002_reliability_assignment_overlap'),
    ]

    operations = [
        migrations.CreateModel(
            name='KnownAnswer',
            fields=[
                ('candidate', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='known_answer', serialize=False, to='candidates.candidate')),
                ('source', models.CharField(choices=[('gold', 'Curator gold'), ('injected', 'Injected synthetic signal')], db_index=True, max_length=16)),
                ('true_class', models.CharField(choices=[('PC', 'Planet candidate'), ('EB', 'Eclipsing binary'), ('BEB', 'Background/blended EB'), ('V', 'Stellar variability'), ('IS', 'Instrumental systematic'), ('J', 'Other / junk')], max_length=8)),
                ('injected_snr', models.FloatField(blank=True, null=True)),
                ('parameters', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('source', 'injected'), _negated=True) | models.Q(('injected_snr__isnull', False)), name='known_answer_injected_has_snr')],
            },
        ),
        migrations.RunPython(gold_known_answers, migrations.RunPython.noop),
    ]
