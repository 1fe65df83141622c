from xietong.party import views

app_name = "party"
urlpatterns = [*views.urlpatterns]
