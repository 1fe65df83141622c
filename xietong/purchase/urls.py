from xietong.purchase import views

app_name = "purchase"
urlpatterns = [*views.urlpatterns]
