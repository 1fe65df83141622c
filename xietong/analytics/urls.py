from xietong.analytics.views import urlpatterns as view_patterns
from xietong.analytics.views_customers import urlpatterns as customer_patterns
from xietong.analytics.views_dashboards import urlpatterns as dashboard_patterns
from xietong.analytics.views_forecast import urlpatterns as forecast_patterns

app_name = "analytics"
urlpatterns = [*view_patterns, *customer_patterns, *forecast_patterns, *dashboard_patterns]
