from xietong.crm.views import board, intake, marketing, pipeline, service

app_name = "crm"
urlpatterns = [
    *pipeline.urlpatterns,
    *marketing.urlpatterns,
    *service.urlpatterns,
    *intake.urlpatterns,
    *board.urlpatterns,
]
