from xietong.workflow import views

app_name = "workflow"
urlpatterns = views.urlpatterns
