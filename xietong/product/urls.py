from xietong.product import views, views_bom, views_configurator

app_name = "product"
urlpatterns = [*views.urlpatterns, *views_bom.urlpatterns, *views_configurator.urlpatterns]
