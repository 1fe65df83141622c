"""The CRM's data, one module per part of the brief's CRM: the sales pipeline (`pipeline`),
marketing (`marketing`: segments, campaigns, promotions, e-mail campaigns) and customer service
and support (`service`: tickets, SLA policies, knowledge base, satisfaction surveys) and lead
intake (`territory`: sales territories, sales mailboxes and the e-mails that made leads)."""

from xietong.crm.models.marketing import *  # noqa: F403
from xietong.crm.models.pipeline import (  # noqa: F401
    AMOUNT,
    PERCENT,
    ZERO,
    Activity,
    AssignmentStrategy,
    Lead,
    LostReason,
    Opportunity,
    PipelineStage,
    SalesTarget,
    SalesTeam,
)
from xietong.crm.models.service import *  # noqa: F403
from xietong.crm.models.territory import LeadMailbox, LeadMessage, Territory  # noqa: F401
