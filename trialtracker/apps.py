from django.apps import AppConfig


class TrialTrackerConfig(AppConfig):
    name = "trialtracker"
    verbose_name = "TrialTracker"
