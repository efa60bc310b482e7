# Secret Manager holds every key; values are added out of band (deploy/README.md), never here.
# Which service reads which: the agent needs the AI vendors' keys, all three need LiveKit and
# MongoDB (the API signs join tokens with the LiveKit key). The API also renders education clips
# in cloud voices and drafts their scripts (OpenAI, ElevenLabs), and signs patient clip links.
locals {
  secrets = {
    LIVEKIT_API_KEY           = ["api", "dispatcher", "agent"]
    LIVEKIT_API_SECRET        = ["api", "dispatcher", "agent"]
    MONGODB_URL               = ["api", "dispatcher", "agent"]
    DEEPGRAM_API_KEY          = ["agent"]
    OPENAI_API_KEY            = ["api", "agent"]
    ELEVENLABS_API_KEY        = ["api", "agent"]
    API_EDUCATION_LINK_SECRET = ["api"]
  }
  secret_readers = merge([
    for name, readers in local.secrets : { for r in readers : "${name}-${r}" => { secret = name, sa = r } }
  ]...)
  # Secret env vars per service, for the containers below.
  secret_env = {
    for svc in ["api", "dispatcher", "agent"] :
    svc => [for name, readers in local.secrets : name if contains(readers, svc)]
  }
}

resource "google_secret_manager_secret" "keys" {
  for_each  = local.secrets
  secret_id = "${lower(replace(each.key, "_", "-"))}-${var.environment}"
  labels    = local.labels
  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "readers" {
  for_each  = local.secret_readers
  secret_id = google_secret_manager_secret.keys[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.svc[each.value.sa].member
}
