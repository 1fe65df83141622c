from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "xietong.finance"
    label = "finance"
    verbose_name = _("Finance")

    def ready(self) -> None:
        from xietong.core import dbguards, permissions, roles

        permissions.declare(
            ("finance.view", _("See the ledger, invoices, payments and financial reports")),
            ("finance.invoice", _("Create, post and cancel invoices and credit notes")),
            ("finance.payment", _("Register payments, reconcile and import bank statements")),
            ("finance.post", _("Post and reverse manual journal entries")),
            ("finance.close", _("Close periods and fiscal years, revalue currencies")),
            ("finance.configure", _("Set up the chart of accounts, journals, taxes and policies")),
        )
        roles.grant(
            "accountant",
            "finance.view",
            "finance.invoice",
            "finance.payment",
            "finance.post",
            "finance.close",
            "finance.configure",
        )
        roles.grant("executive", "finance.view")

        from xietong.finance import guards, navigation, payments, services  # noqa: F401 (audit)

        post_migrate.connect(guards.install_after_migrate, sender=self)
        dbguards.register(guards.guards_install, guards.guards_remove)
        payments.register_timeline_kinds()
        navigation.register()
