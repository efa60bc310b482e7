locals {
  name   = "voicecare-${var.environment}"
  labels = { app = "voicecare", environment = var.environment }
  image  = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"

  # Pub/Sub names: the same defaults as infra/config.ts, per environment.
  topics = {
    requests    = "session-requests"
    events      = "session-events"
    dead_letter = "session-requests-dead-letter"
  }
  requests_subscription    = "session-requests-dispatcher"
  dead_letter_subscription = "session-requests-dead-letter-sub"
  max_delivery_attempts    = 5

  # Cloud Run sends SIGTERM and kills 10 s later. The agent drains for 6.5 s and gives its job
  # processes 2.5 s to flush transcripts; the dispatcher hands back in-flight requests in 8 s.
  agent_drain_timeout_ms         = 6500
  agent_shutdown_timeout_ms      = 2500
  dispatcher_shutdown_timeout_ms = 8000

  # Environment every service reads (infra/config.ts); secrets are wired separately.
  common_env = {
    NODE_ENV                     = "production"
    LOG_LEVEL                    = "info"
    GOOGLE_CLOUD_PROJECT         = var.project_id
    LIVEKIT_URL                  = var.livekit_url
    MONGODB_DB                   = "voicecare"
    PUBSUB_REQUESTS_TOPIC        = local.topics.requests
    PUBSUB_EVENTS_TOPIC          = local.topics.events
    PUBSUB_DEAD_LETTER_TOPIC     = local.topics.dead_letter
    PUBSUB_REQUESTS_SUBSCRIPTION = local.requests_subscription
    PUBSUB_MAX_DELIVERY_ATTEMPTS = tostring(local.max_delivery_attempts)
  }
}

resource "google_project_service" "apis" {
  for_each = toset([
    "run.googleapis.com",
    "pubsub.googleapis.com",
    "secretmanager.googleapis.com",
    "artifactregistry.googleapis.com",
    "parametermanager.googleapis.com",
    "monitoring.googleapis.com",
    "iamcredentials.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  repository_id = "voicecare"
  location      = var.region
  format        = "DOCKER"
  description   = "VoiceCare images: agent, dispatcher, api (one tag per commit)."
  labels        = local.labels
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 30
    }
  }
  depends_on = [google_project_service.apis]
}
