import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_initial"),
        ("manufacturing", "0002_execution_partial"),
        ("product", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="MpsEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("date", models.DateField(verbose_name="date")),
                ("quantity", models.DecimalField(decimal_places=6, max_digits=18, verbose_name="quantity")),
                ("note", models.CharField(blank=True, max_length=200, verbose_name="note")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("company", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="core.company")),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="created by")),
                ("product", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="product.product", verbose_name="product")),
            ],
            options={
                "verbose_name": "firm MPS entry",
                "verbose_name_plural": "firm MPS entries",
                "ordering": ["product_id", "date"],
                "abstract": False,
                "base_manager_name": "unscoped",
                "default_manager_name": "unscoped",
                "constraints": [
                    models.UniqueConstraint(fields=("company", "product", "date"), name="manufacturing_mps_entry_unique"),
                    models.CheckConstraint(condition=models.Q(("quantity__gte", 0)), name="manufacturing_mps_entry_pos"),
                ],
            },
            managers=[
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.AlterField(
            model_name="pegging",
            name="demand",
            field=models.CharField(choices=[("order", "Planned order"), ("sales", "Sales order"), ("forecast", "Forecast"), ("safety", "Safety stock"), ("lot", "Lot size"), ("mps", "Firm MPS entry"), ("other", "Other demand")], max_length=10, verbose_name="demand"),
        ),
    ]
