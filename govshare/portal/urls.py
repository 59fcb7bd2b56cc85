from django.urls import path

from govshare.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.sign_in, name="login"),
    path("accounts/logout/", views.sign_out, name="logout"),
]
