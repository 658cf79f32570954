# ytcaption CPU agents (download, audio extraction, pocketsphinx), sized by
# the control plane's autoscaler through Nomad's scaling API.
#
#   nomad job run -var 'version=0.1.0' jobs/agent-cpu.nomad.hcl

variable "version" {
  type    = string
  default = "0.1.0"
}

variable "artifact_url" {
  type        = string
  description = "URL of the release tarball holding bin/ytcaption-agent."
  default     = "https://releases.example.com/ytcaption/0.1.0/ytcaption_linux_amd64.tar.gz"
}

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "min_agents" {
  type    = number
  default = 1
}

variable "max_agents" {
  type    = number
  default = 10
}

variable "concurrency" {
  type    = number
  default = 2
}

job "ytcaption-agent-cpu" {
  type        = "service"
  datacenters = var.datacenters
  node_pool   = "default"

  meta {
    version = var.version
  }

  update {
    max_parallel     = 2
    min_healthy_time = "10s"
    healthy_deadline = "5m"
    auto_revert      = true
  }

  group "agent" {
    count = var.min_agents

    # The control plane's autoscaler moves count between min and max
    # (POST /v1/job/ytcaption-agent-cpu/scale); Nomad enforces the bounds.
    scaling {
      enabled = true
      min     = var.min_agents
      max     = var.max_agents
    }

    restart {
      attempts = 5
      interval = "10m"
      delay    = "15s"
      mode     = "delay"
    }

    task "agent" {
      driver = "exec"

      artifact {
        source      = var.artifact_url
        destination = "local/"
      }

      config {
        command = "local/bin/ytcaption-agent"
        args = [
          "run",
          "--server", "consul://ytcaption",
          "--engine", "pocketsphinx",
          "--concurrency", "${var.concurrency}",
          "--labels", "pool=cpu",
          "--grace", "5m",
        ]
      }

      vault {
        role = "ytcaption-agent"
      }

      env {
        YTCAPTION_AGENT_CONSUL_ADDR   = "${attr.unique.network.ip-address}:8500"
        YTCAPTION_AGENT_NOMAD_NODE_ID = "${node.unique.id}"
        YTCAPTION_AGENT_STATE_DIR     = "${NOMAD_ALLOC_DIR}/data"
        YTCAPTION_AGENT_WORK_DIR      = "${NOMAD_TASK_DIR}/work"
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/agent.env"
        env         = true
        change_mode = "noop"
        data        = <<-EOT
        {{ with secret "secret/data/ytcaption-agent" }}
        YTCAPTION_AGENT_TOKEN={{ .Data.data.enrollment_token }}
        {{ end }}
        EOT
      }

      kill_timeout = "6m"
      kill_signal  = "SIGTERM"

      resources {
        cpu        = 2000
        memory     = 1024
        memory_max = 2048
      }
    }
  }
}
