"""The running valuation totals of the products valued so far: Σ quantity and Σ value of each
product's layers, the date of its latest layer and the unit cost of its latest receipt (the
receipt layer with the highest id). A data migration, apart from the schema change of 0002;
going back leaves the table to 0002's reversal."""

from decimal import Decimal

from django.db import migrations
from django.db.models import Max, Sum


def totals_fill(apps, schema_editor):
    layer_model = apps.get_model("inventory", "ValuationLayer")
    total_model = apps.get_model("inventory", "ValuationTotal")
    layers = layer_model._default_manager
    last_in = dict(
        layers.filter(quantity__gt=0)
        .values("product_id")
        .annotate(last=Max("id"))
        .order_by()
        .values_list("product_id", "last")
    )
    costs = dict(layers.filter(pk__in=list(last_in.values())).values_list("pk", "unit_cost"))
    rows = (
        layers.values("company_id", "product_id")
        .annotate(q=Sum("quantity"), v=Sum("value"), d=Max("date"))
        .order_by("product_id")
    )
    total_model._default_manager.all().delete()
    total_model._default_manager.bulk_create(
        [
            total_model(
                company_id=row["company_id"],
                product_id=row["product_id"],
                quantity=Decimal(row["q"] or 0).quantize(Decimal("0.000001")),
                value=Decimal(row["v"] or 0).quantize(Decimal("0.0001")),
                last_date=row["d"],
                last_in_cost=costs.get(last_in.get(row["product_id"])),
            )
            for row in rows
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0002_valuation_total"),
    ]

    operations = [
        migrations.RunPython(totals_fill, migrations.RunPython.noop, elidable=True),
    ]
