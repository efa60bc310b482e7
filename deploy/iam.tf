# One service account per service, least privilege. MongoDB Atlas is outside Google Cloud: access
# to it is the MONGODB_URL secret (an Atlas user per service) plus Atlas' network allow-list.
locals {
  services = toset(["api", "dispatcher", "agent", "scaler"])
}

resource "google_service_account" "svc" {
  for_each     = local.services
  account_id   = "vc-${each.key}-${substr(var.environment, 0, 4)}"
  display_name = "VoiceCare ${each.key} (${var.environment})"
}

# The API publishes session requests, nothing else.
resource "google_pubsub_topic_iam_member" "api_publishes_requests" {
  topic  = google_pubsub_topic.topics["requests"].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.svc["api"].member
}

# The dispatcher pulls requests and publishes session events; it checks at startup that the
# topology exists (get only: Terraform owns creation).
resource "google_pubsub_subscription_iam_member" "dispatcher_subscribes" {
  for_each     = toset(["roles/pubsub.subscriber", "roles/pubsub.viewer"])
  subscription = google_pubsub_subscription.requests.id
  role         = each.value
  member       = google_service_account.svc["dispatcher"].member
}

resource "google_pubsub_subscription_iam_member" "dispatcher_sees_dead_letters" {
  subscription = google_pubsub_subscription.dead_letter.id
  role         = "roles/pubsub.viewer"
  member       = google_service_account.svc["dispatcher"].member
}

resource "google_pubsub_topic_iam_member" "dispatcher_topics" {
  for_each = toset(["requests", "dead_letter", "events"])
  topic    = google_pubsub_topic.topics[each.key].id
  role     = "roles/pubsub.viewer"
  member   = google_service_account.svc["dispatcher"].member
}

# Session events (ready, started, completed, escalation) come from the dispatcher and the agents.
resource "google_pubsub_topic_iam_member" "events_publishers" {
  for_each = toset(["dispatcher", "agent"])
  topic    = google_pubsub_topic.topics["events"].id
  role     = "roles/pubsub.publisher"
  member   = google_service_account.svc[each.key].member
}

# Logs and Prometheus metrics (the GMP sidecar writes them) for the running services.
resource "google_project_iam_member" "telemetry" {
  for_each = {
    for pair in setproduct(["api", "dispatcher", "agent"], ["roles/logging.logWriter", "roles/monitoring.metricWriter"]) :
    "${pair[0]}-${pair[1]}" => { sa = pair[0], role = pair[1] }
  }
  project = var.project_id
  role    = each.value.role
  member  = google_service_account.svc[each.value.sa].member
}

# The scaler (CREMA) reads its configuration, the subscription backlog and the Prometheus gauges,
# and sets the agent pool's instance count: on that pool only.
resource "google_project_iam_member" "scaler_reads" {
  for_each = toset(["roles/parametermanager.parameterViewer", "roles/monitoring.viewer"])
  project  = var.project_id
  role     = each.value
  member   = google_service_account.svc["scaler"].member
}

resource "google_cloud_run_v2_worker_pool_iam_member" "scaler_scales_agents" {
  name     = google_cloud_run_v2_worker_pool.agent.name
  location = var.region
  role     = "roles/run.developer"
  member   = google_service_account.svc["scaler"].member
}

resource "google_service_account_iam_member" "scaler_acts_as_agent" {
  service_account_id = google_service_account.svc["agent"].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.svc["scaler"].member
}
