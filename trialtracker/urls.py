from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from trialtracker import account_views, views

# Forms answer GET and POST only (Django's form views would also treat PUT as POST).
FORM_METHODS = ["get", "post", "head", "options"]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", views.LoginView.as_view(http_method_names=FORM_METHODS), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/change/",
        auth_views.PasswordChangeView.as_view(http_method_names=FORM_METHODS),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(http_method_names=FORM_METHODS),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        auth_views.PasswordResetView.as_view(http_method_names=FORM_METHODS),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(http_method_names=FORM_METHODS),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(http_method_names=FORM_METHODS),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(http_method_names=FORM_METHODS),
        name="password_reset_complete",
    ),
    path("protocols/", include("protocols.urls")),
    path("audit/accounts/", account_views.account_changes, name="account_changes"),
    path("audit/accounts.csv", account_views.account_changes_csv, name="account_changes_csv"),
    path("review/", include("sessions.review.urls")),
    path("", include("sessions.urls")),  # /participants/… and /sessions/…: the daily work
    path("admin/", admin.site.urls),
]

handler403 = "trialtracker.views.error_403"
handler404 = "trialtracker.views.error_404"
handler500 = "trialtracker.views.error_500"

admin.site.site_header = "TrialTracker administration"
admin.site.site_title = "TrialTracker admin"
