"""Who gets a new lead or opportunity: the team's members as candidates of the workflow's
dispatch strategies (`xietong.workflow.dispatch.choose`), nothing reimplemented here.

- least loaded: a member's load is the expected revenue of their open opportunities (the
  opportunities' own amounts, added without conversion: a team sells in one currency in
  practice), ties broken by the number of open opportunities and new leads, then user id;
- round robin: the member after the team's `last_assigned`, in user-id order (the team row is
  locked while the cursor moves);
- territory: the record's place (a lead's country and region; for an opportunity, or a lead
  qualified into a party, the party's default — else first — active address, else the party's
  country) is matched against the team's active territories (`crm.Territory`); the most
  specific match wins (a region beats a country, a sub-region its parent region; equally
  specific territories share the work) and its covering members are the candidates of the
  dispatch's skill-match strategy (territory only), i.e. the least loaded of them. When no
  territory matches, or nobody covering it is available, the least loaded of the whole team
  gets it, and the decision's reason says why;
- manual: nobody; the record waits for its owner to be set by hand.

Out-of-office members are covered by their delegate when the delegate is in the team (the
dispatch module's rule).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db.models import Count, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.models import Membership, User
from xietong.crm.models import AssignmentStrategy, Lead, Opportunity, SalesTeam, Territory
from xietong.party.models import Address, Party, Region
from xietong.workflow.dispatch import Candidate, Decision, Need, Strategy, choose, dispatch_many

MAX_REGION_DEPTH = 10  # a guard against a cycle in the region hierarchy


@dataclass(frozen=True)
class Place:
    """Where a lead or an opportunity's customer is: country code and region id (either may
    be missing)."""

    country_id: str | None = None
    region_id: int | None = None

    def __bool__(self) -> bool:
        return bool(self.country_id or self.region_id)


def party_place(party: Party | int | None) -> Place:
    """The party's default active address's region and country (else its first active
    address's), else the party's own country."""
    if party is None:
        return Place()
    pk = party if isinstance(party, int) else party.pk
    address = (
        Address.unscoped.filter(party_id=pk, active=True)
        .order_by("-is_default", "pk")
        .values("country_id", "region_id")
        .first()
    )
    if address is not None:
        return Place(address["country_id"], address["region_id"])
    country = party.country_id if isinstance(party, Party) else (
        Party.unscoped.filter(pk=pk).values_list("country_id", flat=True).first())  # fmt: skip
    return Place(country, None)


def lead_place(lead: Lead) -> Place:
    """A lead qualified into a party is where the party is (when its addresses say so); any
    other lead is where its own country and region say."""
    if lead.party_id:
        place = party_place(lead.party_id)
        if place:
            return place
    return Place(lead.country_id, lead.region_id)


def _region_chain(region_id: int | None) -> tuple[str | None, list[int]]:
    """The region's country and the region followed by its ancestors (most specific first), in
    one query: the regions of the region's country (a hierarchy never crosses countries)."""
    if region_id is None:
        return None, []
    same_country = Region.objects.filter(pk=region_id).values("country_id")
    rows = {
        pk: (country_id, parent_id)
        for pk, country_id, parent_id in Region.objects.filter(
            country_id__in=Subquery(same_country)
        ).values_list("pk", "country_id", "parent_id")
    }
    chain: list[int] = []
    country = None
    current: int | None = region_id
    while current in rows and current not in chain and len(chain) < MAX_REGION_DEPTH:
        chain.append(current)
        country = country or rows[current][0]
        current = rows[current][1]
    return country, chain


def territory_match(team: SalesTeam, place: Place) -> tuple[list[Territory], bool]:
    """The team's active territories that match `place` most specifically, and whether they
    matched by region (else by country). ([], False) when none matches."""
    region_country, chain = _region_chain(place.region_id)
    country = place.country_id or region_country
    if not (country or chain):
        return [], False
    territories = (
        Territory.unscoped.filter(team=team, active=True)
        .prefetch_related("countries", "regions")
        .order_by("name", "pk")
    )
    depth = {region_id: i for i, region_id in enumerate(chain)}
    ranked: list[tuple[tuple[int, int], Territory]] = []
    for territory in territories:
        depths = [depth[r.pk] for r in territory.regions.all() if r.pk in depth]
        if depths:
            ranked.append(((0, min(depths)), territory))
        elif country and any(c.pk == country for c in territory.countries.all()):
            ranked.append(((1, 0), territory))
    if not ranked:
        return [], False
    best = min(rank for rank, _territory in ranked)
    return [t for rank, t in ranked if rank == best], best[0] == 0


def _territory_choose(team: SalesTeam, place: Place | None,
                      candidates: list[Candidate] | None = None,
                      cache: dict[Place, tuple[str, set[int]]] | None = None) -> Decision:  # fmt: skip
    """The territory strategy's decision among `candidates` (default: the team's); `cache`
    keeps each place's matched territories and covering members across a batch."""
    candidates = team_candidates(team) if candidates is None else candidates
    place = place or Place()
    if cache is not None and place in cache:
        key, covering = cache[place]
    else:
        matched, _by_region = territory_match(team, place)
        key = " / ".join(t.name for t in matched)
        covering = set(
            Territory.members.through.objects.filter(territory__in=matched).values_list(
                "user_id", flat=True
            )
        ) if matched else set()  # fmt: skip
        if cache is not None:
            cache[place] = (key, covering)
    if not key:
        decision = choose(Strategy.LEAST_LOADED, candidates)
        return replace(decision, reason=_(
            "no territory of the team matches the country or region: %(reason)s")
            % {"reason": decision.reason})  # fmt: skip
    tagged = [replace(c, territories=frozenset({key}) if c.user_id in covering else frozenset())
              for c in candidates]  # fmt: skip
    decision = choose(Strategy.SKILL_MATCH, tagged, Need(territory=key))
    if decision.user_id is not None:
        return decision
    fallback = choose(Strategy.LEAST_LOADED, candidates)
    return replace(fallback, reason=_(
        "nobody covering territory %(territory)s is available: %(reason)s")
        % {"territory": key, "reason": fallback.reason})  # fmt: skip


def assignees_choose(*, team: SalesTeam, places: Sequence[Place]) -> list[Decision]:
    """One decision per new lead of a batch (an import), in order, by the team's strategy:
    each decision counts the leads handed out before it (one more open task for its
    assignee), as if the leads were created and assigned one after the other, while the team's
    candidates are loaded once. Round robin moves the team's cursor once, at the end (locks
    the team row: call it inside the caller's transaction)."""
    strategy = team.assignment
    if strategy == AssignmentStrategy.MANUAL or not places:
        return [choose(Strategy.MANUAL, []) for _place in places]
    candidates = team_candidates(team)
    if strategy == AssignmentStrategy.ROUND_ROBIN:
        locked = SalesTeam.unscoped.select_for_update().get(pk=team.pk)
        needs = [Need(effort=Decimal(0)) for _place in places]
        decisions = dispatch_many(Strategy.ROUND_ROBIN, candidates, needs,
                                  last_user_id=locked.last_assigned_id)  # fmt: skip
        cursor = next((d.rotation_user_id for d in reversed(decisions) if d.user_id), None)
        if cursor is not None:
            SalesTeam.unscoped.filter(pk=team.pk).update(last_assigned_id=cursor)
            team.last_assigned_id = cursor
        return decisions
    if strategy != AssignmentStrategy.TERRITORY:
        needs = [Need(effort=Decimal(0)) for _place in places]
        return dispatch_many(Strategy(strategy), candidates, needs)
    current = {c.user_id: c for c in candidates}
    cache: dict[Place, tuple[str, set[int]]] = {}
    decisions = []
    for place in places:
        decision = _territory_choose(team, place, list(current.values()), cache)
        decisions.append(decision)
        if decision.user_id is not None:
            chosen = current[decision.user_id]
            current[chosen.user_id] = replace(chosen, open_tasks=chosen.open_tasks + 1)
    return decisions


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


def assignee_choose(*, team: SalesTeam, strategy: str | None = None,
                    place: Place | Callable[[], Place] | None = None) -> Decision:  # fmt: skip
    """Ask the dispatch strategy of the team (or `strategy`) who gets the next record; for
    round robin, moves the team's cursor (locks the team row: call it inside the caller's
    transaction); for territory, `place` is where the record is (`lead_place`,
    `party_place`), or a function returning it (called only for this strategy). Returns the
    `Decision` (user_id None: nobody, with the reason)."""
    strategy = strategy or team.assignment
    if strategy == AssignmentStrategy.TERRITORY:
        return _territory_choose(team, place() if callable(place) else place)
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
