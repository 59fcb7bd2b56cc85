from django.urls import path

from govshare.portal import views
from govshare.stats.views import home

app_name = "portal"

urlpatterns = [
    path("", home, name="home"),
    path("accounts/login/", views.sign_in, name="login"),
    path("accounts/logout/", views.sign_out, name="logout"),
]
