# ytcaption control plane: stateless replicas behind Consul.
#
#   nomad job run -var 'version=0.1.0' jobs/control-plane.nomad.hcl
#
# Secrets are rendered from Vault KV v2 (secret/ytcaption) into the task's
# environment through the task's workload identity; nothing is written
# outside the allocation's secrets directory.

variable "version" {
  type        = string
  description = "ytcaption release to run."
  default     = "0.1.0"
}

variable "artifact_url" {
  type        = string
  description = "URL of the release tarball holding bin/ytcaption (go-getter syntax; checksum recommended)."
  default     = "https://releases.example.com/ytcaption/0.1.0/ytcaption_linux_amd64.tar.gz"
}

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "replicas" {
  type    = number
  default = 3
}

variable "vault_kv" {
  type        = string
  description = "KV v2 <mount>/<path> of the control plane's secrets."
  default     = "secret/ytcaption"
}

variable "agent_job" {
  type        = string
  description = "CPU agent job the autoscaler sizes."
  default     = "ytcaption-agent-cpu"
}

variable "autoscale_min" {
  type    = number
  default = 1
}

variable "autoscale_max" {
  type    = number
  default = 10
}

job "ytcaption" {
  type        = "service"
  datacenters = var.datacenters
  node_pool   = "default"

  meta {
    version = var.version
  }

  update {
    max_parallel      = 1
    health_check      = "checks"
    min_healthy_time  = "15s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
    canary            = 0
    stagger           = "30s"
  }

  group "control-plane" {
    count = var.replicas

    # Replicas on distinct nodes, so one machine going away costs one replica.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "http" {}
    }

    # Leave the Consul catalog before SIGTERM, so agents move to other
    # replicas while this one finishes its requests.
    shutdown_delay = "5s"

    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    service {
      name     = "ytcaption"
      port     = "http"
      provider = "consul"
      tags     = ["version=${var.version}", "http"]

      check {
        name     = "ytcaption readiness"
        type     = "http"
        path     = "/readyz"
        interval = "5s"
        timeout  = "2s"
      }

      check {
        name     = "ytcaption liveness"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"

        check_restart {
          limit           = 3
          grace           = "30s"
          ignore_warnings = false
        }
      }
    }

    task "ytcaption" {
      driver = "exec"

      artifact {
        source      = var.artifact_url
        destination = "local/"
      }

      config {
        command = "local/bin/ytcaption"
        args    = ["server"]
      }

      # Nomad logs in to Vault with this workload identity (JWT auth role
      # ytcaption-control-plane) and renders the template below.
      vault {
        role        = "ytcaption-control-plane"
        change_mode = "restart"
      }

      # The task's default workload identity: NOMAD_TOKEN in the
      # environment authenticates the fleet view and the autoscaler against
      # the Task API socket (ACL policy ytcaption-control-plane is bound to
      # this job). Consul registration is Nomad's service block below, so
      # the replica's own Consul registration stays off.
      identity {
        env = true
      }

      env {
        YTCAPTION_LISTEN        = "0.0.0.0:${NOMAD_PORT_http}"
        YTCAPTION_PUBLIC_URL    = "http://${NOMAD_ADDR_http}"
        YTCAPTION_NOMAD_ADDR    = "unix://${NOMAD_SECRETS_DIR}/api.sock"
        YTCAPTION_AUTOSCALE_JOB = var.agent_job
        YTCAPTION_AUTOSCALE_MIN = "${var.autoscale_min}"
        YTCAPTION_AUTOSCALE_MAX = "${var.autoscale_max}"
        YTCAPTION_DATA_DIR      = "${NOMAD_ALLOC_DIR}/data"
      }

      # Secrets reach the process as environment variables rendered into the
      # secrets directory (tmpfs, never on disk); a new version restarts the
      # task one allocation at a time.
      template {
        destination = "${NOMAD_SECRETS_DIR}/ytcaption.env"
        env         = true
        change_mode = "restart"
        splay       = "30s"
        data        = <<-EOT
        {{ with secret "secret/data/ytcaption" }}
        YTCAPTION_DATABASE_URL={{ .Data.data.database_url }}
        YTCAPTION_REDIS_URL={{ .Data.data.redis_url }}
        YTCAPTION_S3_ENDPOINT={{ .Data.data.s3_endpoint }}
        YTCAPTION_S3_BUCKET={{ .Data.data.s3_bucket }}
        YTCAPTION_S3_ACCESS_KEY={{ .Data.data.s3_access_key }}
        YTCAPTION_S3_SECRET_KEY={{ .Data.data.s3_secret_key }}
        YTCAPTION_ADMIN_KEY={{ .Data.data.admin_key }}
        {{ end }}
        EOT
      }

      kill_timeout = "45s"
      kill_signal  = "SIGTERM"

      resources {
        cpu        = 500
        memory     = 512
        memory_max = 1024
      }
    }
  }
}
