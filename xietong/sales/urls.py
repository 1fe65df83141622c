from xietong.sales import views

app_name = "sales"
urlpatterns = [*views.urlpatterns]
