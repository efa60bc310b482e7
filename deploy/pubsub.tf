# Mirrors infra/pubsub.ts (ensureSessionTopology): the services only check that these exist.
resource "google_pubsub_topic" "topics" {
  for_each = local.topics
  name     = each.value
  labels   = local.labels
}

resource "google_pubsub_subscription" "requests" {
  name                 = local.requests_subscription
  topic                = google_pubsub_topic.topics["requests"].id
  ack_deadline_seconds = 30
  labels               = local.labels

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topics["dead_letter"].id
    max_delivery_attempts = local.max_delivery_attempts
  }
  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "60s"
  }
  expiration_policy {
    ttl = ""
  }
}

# A dead-letter topic with no subscription silently drops what lands on it.
resource "google_pubsub_subscription" "dead_letter" {
  name                       = local.dead_letter_subscription
  topic                      = google_pubsub_topic.topics["dead_letter"].id
  message_retention_duration = "604800s"
  labels                     = local.labels
  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub's own service agent moves undeliverable messages: it must publish to the dead-letter
# topic and acknowledge on the source subscription.
data "google_project" "this" {}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.topics["dead_letter"].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_forwarder" {
  subscription = google_pubsub_subscription.requests.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
