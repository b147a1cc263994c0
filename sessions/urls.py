"""The daily-work pages, mounted at the site root: /participants/… and /sessions/…."""

from django.urls import path

from sessions import views

app_name = "sessions"

urlpatterns = [
    path("participants/", views.participant_list, name="participant_list"),
    path("participants/enrol/", views.enroll, name="enroll"),
    path("participants/<int:pk>/", views.participant_detail, name="participant_detail"),
    path("participants/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("participants/<int:pk>/deviations/new/", views.deviation_create, name="deviation_create"),
    path("participants/deviations/<int:pk>/close/", views.deviation_close, name="deviation_close"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/schedule/", views.schedule, name="schedule"),
    path("sessions/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("sessions/<int:pk>/log/", views.log, name="log"),
    path("sessions/<int:pk>/sign/", views.sign, name="sign"),
]
