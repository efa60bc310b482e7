# The external-metrics autoscaler for the agent pool: CREMA runs as its own small service and
# reads its configuration from Parameter Manager.
resource "google_parameter_manager_parameter" "crema" {
  parameter_id = "${local.name}-crema"
  format       = "YAML"
  labels       = local.labels
  depends_on   = [google_project_service.apis]
}

resource "google_parameter_manager_parameter_version" "crema" {
  parameter            = google_parameter_manager_parameter.crema.id
  parameter_version_id = "v-${substr(sha256(local.crema_config), 0, 12)}"
  parameter_data       = local.crema_config
}

locals {
  crema_config = templatefile("${path.module}/crema/scaling.yaml.tftpl", {
    project_id          = var.project_id
    region              = var.region
    worker_pool         = google_cloud_run_v2_worker_pool.agent.name
    subscription        = google_pubsub_subscription.requests.name
    sessions_per_worker = var.agent_sessions_per_worker
    # Scale to zero at night only when no spare worker is kept.
    min_workers = var.agent_spare_workers
    max_workers = var.agent_max_workers
  })
}

resource "google_cloud_run_v2_service" "scaler" {
  name                = "${local.name}-scaler"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false
  labels              = merge(local.labels, { created-by = "crema" })

  template {
    service_account = google_service_account.svc["scaler"].email
    scaling {
      min_instance_count = 1
      max_instance_count = 1
    }
    containers {
      image = var.crema_image
      resources {
        limits   = { cpu = "1", memory = "512Mi" }
        cpu_idle = false
      }
      env {
        name  = "CREMA_CONFIG"
        value = google_parameter_manager_parameter_version.crema.id
      }
    }
  }
}
