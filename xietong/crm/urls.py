from xietong.crm import views

app_name = "crm"
urlpatterns = [*views.urlpatterns]
