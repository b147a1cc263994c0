from django.urls import path

from sessions.review import views

app_name = "review"

urlpatterns = [
    path("monitor/", views.monitor_review_page, name="monitor_review"),
    path("calendar/", views.site_calendar, name="site_calendar"),
    path("monitor/audit/", views.audit_search, name="audit"),
    path("monitor/export/sessions.csv", views.export_sessions, name="export_sessions"),
    path("monitor/export/deviations.csv", views.export_deviations, name="export_deviations"),
    path("monitor/export/audit.csv", views.export_audit, name="export_audit"),
    path("profile/", views.profile, name="profile"),
    path("profile/feed/new/", views.feed_regenerate, name="feed_regenerate"),
    path("profile/feed/revoke/", views.feed_revoke, name="feed_revoke"),
    path("feed/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
