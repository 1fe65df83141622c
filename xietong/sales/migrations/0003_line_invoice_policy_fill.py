"""Existing order lines take their order's invoicing policy, services "order" (as they were
invoiced before lines had a policy of their own). A data migration, apart from the schema change
of 0002; going back leaves the column to 0002's reversal."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def lines_fill(apps, schema_editor):
    line_model = apps.get_model("sales", "SalesOrderLine")
    order_model = apps.get_model("sales", "SalesOrder")
    of_order = order_model._default_manager.filter(pk=OuterRef("order_id")).values(
        "invoice_policy"
    )[:1]
    line_model._default_manager.update(invoice_policy=Subquery(of_order))
    line_model._default_manager.filter(product__type="service").update(invoice_policy="order")


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0002_line_invoice_policy"),
    ]

    operations = [
        migrations.RunPython(lines_fill, migrations.RunPython.noop, elidable=True),
    ]
