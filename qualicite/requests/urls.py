from django.urls import path

from qualicite.requests import views

app_name = "requests"

urlpatterns = [
    path("demandes/", views.queue, name="queue"),
    path("demandes/lot/", views.bulk, name="bulk"),
    path("demandes/nouvelle/", views.new, name="new"),
    path("demandes/<int:pk>/", views.detail, name="detail"),
    path("demandes/<int:pk>/modifier/", views.edit, name="edit"),
    path("demandes/<int:pk>/attribuer/", views.assign, name="assign"),
    path("demandes/<int:pk>/orienter/", views.reroute, name="reroute"),
    path("demandes/<int:pk>/attente/", views.pause, name="pause"),
    path("demandes/<int:pk>/cloturer/", views.close, name="close"),
    path("demandes/<int:pk>/rouvrir/", views.reopen, name="reopen"),
    path("demandes/<int:pk>/escalader/", views.escalate, name="escalate"),
    path("demandes/<int:pk>/repondre/", views.reply, name="reply"),
    path("demandes/<int:pk>/accuse.pdf", views.acknowledgement_letter, name="ack_letter"),
    path("demandes/<int:pk>/reponses/<int:reply_pk>/valider/", views.review, name="review"),
    path(
        "demandes/<int:pk>/reponses/<int:reply_pk>/courrier.pdf",
        views.reply_letter,
        name="reply_letter",
    ),
    path("demandes/<int:pk>/pieces/<int:attachment_pk>/", views.attachment, name="attachment"),
]
