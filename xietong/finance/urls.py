from xietong.finance import views

app_name = "finance"
urlpatterns = [*views.urlpatterns]
