from xietong.manufacturing import views

app_name = "manufacturing"
urlpatterns = [*views.urlpatterns]
