# The promised thresholds as Cloud Monitoring alert policies: more than 5 % errors, more than
# 500 ms latency. Request metrics come from Cloud Run (the API); session outcomes from the
# dispatcher's Prometheus counters (collected by the sidecar into Managed Prometheus).
resource "google_monitoring_notification_channel" "email" {
  count        = var.alert_email == "" ? 0 : 1
  display_name = "VoiceCare on-call (${var.environment})"
  type         = "email"
  labels       = { email_address = var.alert_email }
}

locals {
  channels = google_monitoring_notification_channel.email[*].id
}

resource "google_monitoring_alert_policy" "api_errors" {
  display_name          = "${local.name}: API 5xx above 5 %"
  combiner              = "OR"
  notification_channels = local.channels
  conditions {
    display_name = "5xx share of API requests > 5 % for 5 min"
    condition_monitoring_query_language {
      duration = "300s"
      query    = <<-EOQ
        fetch cloud_run_revision
        | metric 'run.googleapis.com/request_count'
        | filter resource.service_name == '${google_cloud_run_v2_service.api.name}'
        | align rate(1m)
        | group_by [], [errors: sum(if(metric.response_code_class == '5xx', val(), 0)), all: sum(val())]
        | value [ratio: errors / all]
        | condition ratio > 0.05
      EOQ
    }
  }
}

resource "google_monitoring_alert_policy" "api_latency" {
  display_name          = "${local.name}: API p95 latency above 500 ms"
  combiner              = "OR"
  notification_channels = local.channels
  conditions {
    display_name = "p95 request latency > 500 ms for 5 min"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${google_cloud_run_v2_service.api.name}\" AND metric.type = \"run.googleapis.com/request_latencies\""
      comparison      = "COMPARISON_GT"
      threshold_value = 500
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_PERCENTILE_95"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "session_failures" {
  display_name          = "${local.name}: session requests failing above 5 %"
  combiner              = "OR"
  notification_channels = local.channels
  conditions {
    display_name = "failed + dead-lettered share of requests > 5 % for 10 min"
    condition_prometheus_query_language {
      duration = "600s"
      query    = "sum(rate(voicecare_dispatcher_requests_total{outcome=~\"failed|dead_lettered\"}[5m])) / clamp_min(sum(rate(voicecare_dispatcher_requests_total[5m])), 1e-9) > 0.05"
    }
  }
}

resource "google_monitoring_alert_policy" "placement_latency" {
  display_name          = "${local.name}: agent placement p95 above 2.5 s"
  combiner              = "OR"
  notification_channels = local.channels
  documentation {
    content = "Time from a request's publish to its agent in the room: the pool is short (see desired_workers) or LiveKit is slow."
  }
  conditions {
    display_name = "p95 publish to agent joined > 2.5 s for 10 min"
    condition_prometheus_query_language {
      duration = "600s"
      query    = "histogram_quantile(0.95, sum by (le) (rate(voicecare_dispatcher_publish_to_agent_joined_seconds_bucket[5m]))) > 2.5"
    }
  }
}
