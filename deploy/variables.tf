variable "project_id" {
  type        = string
  description = "Google Cloud project for this environment."
}

variable "region" {
  type        = string
  default     = "us-central1"
  description = "Region for Cloud Run, Artifact Registry and the secrets' replicas."
}

variable "environment" {
  type        = string
  description = "staging or production: suffixes names and labels."
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "image_tag" {
  type        = string
  description = "Tag (the git SHA, pushed by CI) of the agent, dispatcher and api images."
}

variable "livekit_url" {
  type        = string
  description = "wss:// URL of LiveKit Cloud or the self-hosted LiveKit cluster (not on Cloud Run)."
}

variable "agent_sessions_per_worker" {
  type        = number
  default     = 2
  description = "Sessions one agent worker takes (AGENT_MAX_JOBS); the scaler divides demand by it."
}

variable "agent_spare_workers" {
  type        = number
  default     = 1
  description = "Idle agent workers kept for the next call; 0 lets the pool reach zero at night."
}

variable "agent_max_workers" {
  type        = number
  default     = 50
  description = "Upper bound of the agent worker pool."
}

variable "alert_email" {
  type        = string
  default     = ""
  description = "Where alerts go (empty: no e-mail channel; the policies still exist)."
}

variable "crema_image" {
  type        = string
  default     = "us-central1-docker.pkg.dev/cloud-run-oss-images/crema-v1/autoscaler:1.0"
  description = "The pre-built CREMA autoscaler image (Cloud Run's external-metrics autoscaler)."
}

variable "gmp_sidecar_image" {
  type        = string
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"
  description = "Managed Service for Prometheus sidecar: scrapes /metrics into Cloud Monitoring."
}
