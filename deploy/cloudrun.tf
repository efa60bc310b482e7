# The three services. Media (WebRTC) never touches Cloud Run: agents connect out to LiveKit.
locals {
  api_env = {}
  dispatcher_env = {
    DISPATCHER_SHUTDOWN_TIMEOUT_MS = tostring(local.dispatcher_shutdown_timeout_ms)
    DISPATCHER_SESSIONS_PER_WORKER = tostring(var.agent_sessions_per_worker)
    DISPATCHER_SPARE_WORKERS       = tostring(var.agent_spare_workers)
  }
  agent_env = {
    AGENT_HTTP_HOST           = "0.0.0.0"
    AGENT_HTTP_PORT           = "8081"
    AGENT_METRICS_PORT        = "9464"
    AGENT_MAX_JOBS            = tostring(var.agent_sessions_per_worker)
    AGENT_NUM_IDLE_PROCESSES  = "1"
    AGENT_DRAIN_TIMEOUT_MS    = tostring(local.agent_drain_timeout_ms)
    AGENT_SHUTDOWN_TIMEOUT_MS = tostring(local.agent_shutdown_timeout_ms)
  }
}

resource "google_cloud_run_v2_service" "api" {
  name                = "${local.name}-api"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.environment == "production"
  labels              = local.labels

  template {
    service_account                  = google_service_account.svc["api"].email
    max_instance_request_concurrency = 80
    timeout                          = "30s"
    scaling {
      min_instance_count = 1
      max_instance_count = 10
    }
    containers {
      name  = "api"
      image = "${local.image}/api:${var.image_tag}"
      ports {
        container_port = 8080
      }
      resources {
        limits = { cpu = "1", memory = "512Mi" }
      }
      startup_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 2
        failure_threshold = 15
      }
      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds = 15
      }
      dynamic "env" {
        for_each = merge(local.common_env, local.api_env)
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = toset(local.secret_env["api"])
        content {
          name = env.value
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.keys[env.value].secret_id
              version = "latest"
            }
          }
        }
      }
    }
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

# The dispatcher pulls from Pub/Sub in the background: CPU always allocated, never scaled to
# zero, and reachable only from inside the project (its port serves health and /metrics).
resource "google_cloud_run_v2_service" "dispatcher" {
  name                = "${local.name}-dispatcher"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = var.environment == "production"
  labels              = local.labels

  template {
    service_account = google_service_account.svc["dispatcher"].email
    scaling {
      min_instance_count = 1
      max_instance_count = 3
    }
    containers {
      name  = "dispatcher"
      image = "${local.image}/dispatcher:${var.image_tag}"
      ports {
        container_port = 8080
      }
      resources {
        limits   = { cpu = "1", memory = "512Mi" }
        cpu_idle = false
      }
      startup_probe {
        http_get {
          path = "/readyz"
        }
        period_seconds    = 2
        failure_threshold = 30
      }
      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds = 15
      }
      dynamic "env" {
        for_each = merge(local.common_env, local.dispatcher_env)
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = toset(local.secret_env["dispatcher"])
        content {
          name = env.value
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.keys[env.value].secret_id
              version = "latest"
            }
          }
        }
      }
    }
    # Managed Service for Prometheus: its default configuration scrapes :8080/metrics.
    containers {
      name  = "collector"
      image = var.gmp_sidecar_image
      resources {
        limits = { cpu = "0.25", memory = "256Mi" }
      }
    }
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

# Agent workers: no inbound traffic, so a worker pool. CREMA sets its instance count
# (deploy/crema/), so Terraform leaves that number alone after creation.
resource "google_cloud_run_v2_worker_pool" "agent" {
  name                = "${local.name}-agent"
  location            = var.region
  launch_stage        = "BETA"
  deletion_protection = var.environment == "production"
  labels              = local.labels

  scaling {
    scaling_mode          = "MANUAL"
    manual_instance_count = max(1, var.agent_spare_workers)
  }
  lifecycle {
    ignore_changes = [scaling[0].manual_instance_count]
  }

  template {
    service_account = google_service_account.svc["agent"].email
    containers {
      name  = "agent"
      image = "${local.image}/agent:${var.image_tag}"
      # Per job ~220 MB in a session plus ~460 MB for the main and inference processes (INFRA.md).
      resources {
        limits = { cpu = "2", memory = "2Gi" }
      }
      dynamic "env" {
        for_each = merge(local.common_env, local.agent_env)
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = toset(local.secret_env["agent"])
        content {
          name = env.value
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.keys[env.value].secret_id
              version = "latest"
            }
          }
        }
      }
    }
    containers {
      name  = "collector"
      image = var.gmp_sidecar_image
      resources {
        limits = { cpu = "0.25", memory = "256Mi" }
      }
      volume_mounts {
        name       = "gmp-config"
        mount_path = "/etc/rungmp"
      }
    }
    volumes {
      name = "gmp-config"
      secret {
        secret = google_secret_manager_secret.gmp_agent_config.secret_id
        items {
          path    = "config.yaml"
          version = "latest"
        }
      }
    }
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

# The collector's scrape configuration for the agent's metrics port (not the default 8080).
resource "google_secret_manager_secret" "gmp_agent_config" {
  secret_id = "gmp-agent-config-${var.environment}"
  labels    = local.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "gmp_agent_config" {
  secret      = google_secret_manager_secret.gmp_agent_config.id
  secret_data = file("${path.module}/crema/agent-scrape.yaml")
}

resource "google_secret_manager_secret_iam_member" "agent_reads_gmp_config" {
  secret_id = google_secret_manager_secret.gmp_agent_config.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.svc["agent"].member
}
