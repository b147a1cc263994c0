from django.urls import path

from protocols import views

app_name = "protocols"

urlpatterns = [
    path("", views.version_list, name="list"),
    path("<int:pk>/", views.version_detail, name="detail"),
]
