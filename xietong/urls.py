from django.urls import include, path

urlpatterns = [
    path("", include("xietong.web.urls")),
    path("", include("xietong.core.urls")),
    path("api/v1/", include("xietong.api.urls")),
]
