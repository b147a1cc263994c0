from django.apps import AppConfig


class TrialSessionsConfig(AppConfig):
    name = "sessions"
    # The folder name clashes with django.contrib.sessions, whose label is "sessions".
    label = "trial_sessions"
    verbose_name = "Sites, participants and sessions"
