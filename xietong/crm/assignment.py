"""Who gets a new lead or opportunity: the team's members as candidates of the workflow's
dispatch strategies (`xietong.workflow.dispatch.choose`), nothing reimplemented here.

- least loaded: a member's load is the expected revenue of their open opportunities (the
  opportunities' own amounts, added without conversion: a team sells in one currency in
  practice), ties broken by the number of open opportunities and new leads, then user id;
- round robin: the member after the team's `last_assigned`, in user-id order (the team row is
  locked while the cursor moves);
- manual: nobody; the record waits for its owner to be set by hand.

Out-of-office members are covered by their delegate when the delegate is in the team (the
dispatch module's rule). Territory matching is not offered: a party has no region or territory
of its own (only its addresses do), so there is nothing to match a member's territory against.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from xietong.core.models import Membership, User
from xietong.crm.models import AssignmentStrategy, Lead, Opportunity, SalesTeam
from xietong.workflow.dispatch import Candidate, Decision, Strategy, choose


def team_member_ids(team: SalesTeam) -> list[int]:
    """The team's members and manager (user ids, sorted)."""
    ids = set(team.members.values_list("pk", flat=True))
    if team.manager_id:
        ids.add(team.manager_id)
    return sorted(ids)


def team_candidates(team: SalesTeam) -> list[Candidate]:
    """The team's members (not its manager, unless a member too) with active memberships, as
    dispatch candidates: open effort = expected revenue of their open opportunities."""
    member_ids = list(team.members.values_list("pk", flat=True))
    memberships = {
        m.user_id: m
        for m in Membership.unscoped.filter(
            company_id=team.company_id, user_id__in=member_ids, is_active=True, user__is_active=True
        )
    }
    open_rows = (
        Opportunity.unscoped.filter(
            company_id=team.company_id, owner_id__in=memberships, state=Opportunity.State.OPEN
        )
        .values("owner_id")
        .annotate(total=Sum("expected_revenue"), n=Count("pk"))
    )
    revenue = {row["owner_id"]: row["total"] for row in open_rows}
    counts = {row["owner_id"]: row["n"] for row in open_rows}
    leads = dict(
        Lead.unscoped.filter(company_id=team.company_id, owner_id__in=memberships,
                             state=Lead.State.NEW)
        .values("owner_id").annotate(n=Count("pk")).values_list("owner_id", "n")
    )  # fmt: skip
    today = timezone.localdate()
    return [
        Candidate(
            user_id=user_id,
            open_effort=Decimal(revenue.get(user_id) or 0),
            open_tasks=counts.get(user_id, 0) + leads.get(user_id, 0),
            out_of_office=bool(m.out_of_office_until and m.out_of_office_until >= today),
            delegate_id=m.delegate_id,
        )
        for user_id, m in sorted(memberships.items())
    ]


def assignee_choose(*, team: SalesTeam, strategy: str | None = None) -> Decision:
    """Ask the dispatch strategy of the team (or `strategy`) who gets the next record; for
    round robin, moves the team's cursor (locks the team row: call it inside the caller's
    transaction). Returns the `Decision` (user_id None: nobody, with the reason)."""
    strategy = strategy or team.assignment
    if strategy == AssignmentStrategy.ROUND_ROBIN:
        locked = SalesTeam.unscoped.select_for_update().get(pk=team.pk)
        decision = choose(
            Strategy.ROUND_ROBIN, team_candidates(team), last_user_id=locked.last_assigned_id
        )
        if decision.user_id is not None:
            SalesTeam.unscoped.filter(pk=team.pk).update(last_assigned_id=decision.rotation_user_id)
            team.last_assigned_id = decision.rotation_user_id
        return decision
    return choose(Strategy(strategy), team_candidates(team))


def user_teams(user: User, company_id: int) -> Q:
    """A filter on SalesTeam: the teams `user` is a member or the manager of."""
    return Q(company_id=company_id) & (Q(members=user) | Q(manager=user))
