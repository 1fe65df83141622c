from django.urls import path

from xietong.web import admin_site, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("login/otp/", views.login_otp, name="login_otp"),
    path("logout/", views.logout, name="logout"),
    path("health/", views.health, name="health"),
    path("portal/", views.portal, name="portal"),
    path("account/", views.account, name="account"),
    path("account/password/", views.password_change, name="password_change"),
    path("account/two-factor/", views.otp_setup, name="otp_setup"),
    path("account/two-factor/disable/", views.otp_disable, name="otp_disable"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("switch-company/", views.switch_company, name="switch_company"),
]

# Outside the `web` namespace: Django's language switcher and the superuser-only admin.
root_urlpatterns = [
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin_site.site.urls),
]
