"""The CRM's REST endpoints (Django Ninja), one router per part: the sales pipeline, marketing
and customer service, all under the API's root."""

from xietong.crm.api import marketing, pipeline, service

router = pipeline.router
router.add_router("", marketing.router)
router.add_router("", service.router)
