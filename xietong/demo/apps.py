from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "xietong.demo"
    label = "demo"
    verbose_name = "Demo data"
