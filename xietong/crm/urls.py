from xietong.crm.views import marketing, pipeline, service

app_name = "crm"
urlpatterns = [*pipeline.urlpatterns, *marketing.urlpatterns, *service.urlpatterns]
