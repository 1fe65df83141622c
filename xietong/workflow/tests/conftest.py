from __future__ import annotations

from pathlib import Path

import pytest

BPMN = Path(__file__).parent / "bpmn"


def read(name: str) -> str:
    return (BPMN / name).read_text(encoding="utf-8")


@pytest.fixture
def stamp_service():  # type: ignore[no-untyped-def]
    """Register the `test.stamp` service used by wait.bpmn; returns the calls it received."""
    from xietong.workflow import registry

    calls = []

    def stamp(call, *, label):  # type: ignore[no-untyped-def]
        calls.append((call, label))
        return {"stamped": label}

    registry.register("test.stamp", stamp)
    yield calls
    registry.unregister("test.stamp")


@pytest.fixture
def deploy(admin_a):  # type: ignore[no-untyped-def]
    """Deploy a fixture model: deploy("approval.bpmn", "approval", key=..., dmn=[...])."""
    from xietong.workflow.services import definition_deploy

    def make(filename, process_id, *, key=None, dmn=(), company=None, actor=None):  # type: ignore[no-untyped-def]
        return definition_deploy(
            company=company or admin_a.memberships.first().company,
            actor=actor or admin_a,
            key=key or process_id,
            name=process_id,
            bpmn_xml=read(filename),
            dmn_xmls=[read(d) for d in dmn],
            process_id=process_id,
        )

    return make
