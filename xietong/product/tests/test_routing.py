"""Work centers (capacity from working days, hours, units, efficiency and closed dates) and
routings (operations on work centers; one active routing per product)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from xietong.core.models import AuditEntry
from xietong.product import bom as svc
from xietong.product.models import Routing, WorkCenter
from xietong.product.tests.bom_factories import make_item, make_routing, make_work_center

pytestmark = pytest.mark.django_db

D = Decimal


def test_capacity_over_a_week_with_a_closed_day(company_a):
    center = make_work_center(
        company_a,
        "WELD",
        hours_per_day=D("8"),
        units=2,
        efficiency_percent=D("90"),
        holidays=["2026-11-25"],
    )
    capacity = svc.work_center_capacity(
        work_center=center, date_from=dt.date(2026, 11, 23), date_to=dt.date(2026, 11, 29)
    )
    assert [d.hours for d in capacity.days] == [D("14.4"), D("14.4"), 0, D("14.4"), D("14.4"), 0, 0]
    assert capacity.total == D("57.6") and capacity.per_working_day == D("14.4")
    with pytest.raises(ValidationError):
        svc.work_center_capacity(
            work_center=center, date_from=dt.date(2026, 11, 23), date_to=dt.date(2026, 11, 1)
        )


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"working_days": [0, 8]}, "working_days"),
        ({"holidays": ["26/11/2026"]}, "holidays"),
        ({"hours_per_day": D("25")}, "hours_per_day"),
        ({"efficiency_percent": D("0")}, "efficiency_percent"),
        ({"units": 0}, "units"),
        ({"cost": "-1"}, "cost_per_hour"),
    ],
)
def test_work_center_validation(company_a, fields, bad):
    with pytest.raises(ValidationError) as exc:
        make_work_center(company_a, "WC", **fields)
    assert bad in exc.value.message_dict
    assert not WorkCenter.unscoped.exists()


def test_work_center_codes_are_unique_per_company(company_a, company_b):
    make_work_center(company_a, "WELD")
    make_work_center(company_b, "WELD")
    with pytest.raises(ValidationError) as exc:
        make_work_center(company_a, "WELD")
    assert exc.value.message_dict == {"code": ["Another work center has this code."]}


def test_work_center_update_is_audited_and_holidays_normalised(company_a, admin_a):
    center = make_work_center(company_a, "WELD")
    svc.work_center_update(
        work_center=center,
        actor=admin_a,
        holidays=["2026-10-02", dt.date(2026, 10, 1), "2026-10-02"],
        name="焊接",
    )
    center.refresh_from_db()
    assert center.holidays == ["2026-10-01", "2026-10-02"] and center.name == "焊接"
    assert AuditEntry.objects.get_for_object(center).filter(actor=admin_a).exists()
    with pytest.raises(ValidationError):
        svc.work_center_update(work_center=center, actor=admin_a, company=None)


def test_routing_operations_and_archiving(company_a, admin_a):
    weld = make_work_center(company_a, "WELD")
    paint = make_work_center(company_a, "PAINT")
    frame = make_item(company_a, "FRAME")
    routing = make_routing(company_a, frame, [(weld, "30", "12"), (paint, "15", "6")])
    assert [(op.work_center.code, op.run_minutes) for op in routing.operations.all()] == [
        ("WELD", 12),
        ("PAINT", 6),
    ]
    assert svc.routing_hours(routing=routing, quantity=D("10")) == {
        weld.pk: D("2.5"),
        paint.pk: D("1.25"),
    }
    # The work center is in use: it cannot be archived.
    with pytest.raises(ValidationError) as exc:
        svc.work_center_archive(work_center=weld, actor=admin_a)
    assert "active" in exc.value.message_dict
    # One active routing per product.
    with pytest.raises(ValidationError) as exc:
        make_routing(company_a, frame, [(weld, "0", "1")], name="Second")
    assert "active" in exc.value.message_dict
    svc.routing_update(
        routing=routing,
        actor=admin_a,
        operations=[
            {"name": "Weld", "work_center": "WELD", "setup_minutes": "5", "run_minutes": "10"}
        ],
    )
    note = (
        AuditEntry.objects.get_for_object(routing)
        .filter(action=AuditEntry.Action.UPDATE)
        .order_by("-pk")
        .first()
    )
    assert note.changes_dict["Operations"][1] == "10 Weld @WELD 5+10 min"
    svc.routing_archive(routing=routing, actor=admin_a)
    assert not Routing.unscoped.get(pk=routing.pk).active
    svc.work_center_archive(work_center=paint, actor=admin_a)
    with pytest.raises(ValidationError) as exc:
        make_routing(company_a, frame, [(paint, "0", "1")])
    assert exc.value.message_dict == {"operations.0.work_center": ["This work center is archived."]}


@pytest.mark.parametrize(
    ("operation", "bad"),
    [
        ({"work_center": "NOPE"}, "operations.0.work_center"),
        ({"name": ""}, "operations.0.name"),
        ({"setup_minutes": "-1"}, "operations.0.setup_minutes"),
        ({"run_minutes": "x"}, "operations.0.run_minutes"),
        ({"sequence": -5}, "operations.0.sequence"),
    ],
)
def test_bad_operations_are_refused(company_a, operation, bad):
    make_work_center(company_a, "WELD")
    frame = make_item(company_a, "FRAME")
    data = {"name": "Weld", "work_center": "WELD", "setup_minutes": "0", "run_minutes": "1"}
    with pytest.raises(ValidationError) as exc:
        svc.routing_create(
            company=company_a,
            actor=None,
            product=frame,
            name="R",
            operations=[{**data, **operation}],
        )
    assert bad in exc.value.message_dict
    assert not Routing.unscoped.exists()


def test_work_center_of_another_company_is_refused(company_a, company_b):
    theirs = make_work_center(company_b, "WELD")
    frame = make_item(company_a, "FRAME")
    with pytest.raises(ValidationError) as exc:
        make_routing(company_a, frame, [(theirs, "0", "1")])
    assert exc.value.message_dict == {
        "operations.0.work_center": ["Choose a work center of this company."]
    }
    with pytest.raises(ValidationError) as exc:
        svc.routing_create(company=company_a, actor=None, product=frame, name="R", operations=[])
    assert "operations" in exc.value.message_dict
