from django.urls import path

from xietong.core import imports, views

app_name = "core"
urlpatterns = [
    path("settings/company/", views.company_settings, name="company"),
    path("settings/users/", views.user_list, name="user_list"),
    path("settings/users/invite/", views.user_invite, name="user_invite"),
    path("settings/users/<int:pk>/", views.user_detail, name="user_detail"),
    path("settings/users/<int:pk>/roles/", views.user_roles, name="user_roles"),
    path("settings/roles/", views.role_list, name="role_list"),
    path("settings/sequences/", views.sequence_list, name="sequence_list"),
    path("settings/sequences/<int:pk>/", views.sequence_detail, name="sequence_detail"),
    path("settings/sequences/<int:pk>/edit/", views.sequence_edit, name="sequence_edit"),
    path("settings/audit/", views.audit_list, name="audit_list"),
    path("settings/units/", views.unit_list, name="unit_list"),
    path("settings/units/<int:pk>/", views.unit_detail, name="unit_detail"),
    path("settings/units/<int:pk>/edit/", views.unit_edit, name="unit_edit"),
    path("finance/rates/", views.rate_list, name="rate_list"),
    path("finance/rates/new/", views.rate_create, name="rate_create"),
    path("finance/rates/<int:pk>/", views.rate_detail, name="rate_detail"),
    path("finance/rates/<int:pk>/edit/", views.rate_edit, name="rate_edit"),
    path("finance/rates/<int:pk>/delete/", views.rate_delete, name="rate_delete"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
]


def _import_patterns() -> list:
    patterns = []
    for spec in imports.specs():
        upload, confirm, export = views.import_views(spec)
        patterns += [
            path(f"imports/{spec.key}/", upload, name=f"import_{spec.key}"),
            path(f"imports/{spec.key}/confirm/", confirm, name=f"import_{spec.key}_confirm"),
            path(f"imports/{spec.key}/export.<str:fmt>", export, name=f"export_{spec.key}"),
        ]
    return patterns


urlpatterns += _import_patterns()
