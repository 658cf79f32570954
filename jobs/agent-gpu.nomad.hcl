# ytcaption GPU agents: one per GPU node (system job on the "gpu" node pool),
# running whisper.cpp on an NVIDIA GPU.
#
#   nomad job run -var 'version=0.1.0' jobs/agent-gpu.nomad.hcl

variable "version" {
  type    = string
  default = "0.1.0"
}

variable "artifact_url" {
  type        = string
  description = "URL of the release tarball holding bin/ytcaption-agent."
  default     = "https://releases.example.com/ytcaption/0.1.0/ytcaption_linux_amd64.tar.gz"
}

variable "whisper_model_url" {
  type        = string
  description = "ggml model file for whisper.cpp."
  default     = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-large-v3-turbo.bin"
}

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "gpu_min_memory" {
  type        = string
  description = "Smallest GPU memory a node needs to run the model."
  default     = "8 GiB"
}

variable "concurrency" {
  type    = number
  default = 2
}

job "ytcaption-agent-gpu" {
  type        = "system"
  datacenters = var.datacenters
  node_pool   = "gpu"

  meta {
    version = var.version
  }

  update {
    max_parallel     = 1
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }

  group "agent" {
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

      artifact {
        source      = var.whisper_model_url
        destination = "local/models/ggml.bin"
        mode        = "file"
      }

      config {
        command = "local/bin/ytcaption-agent"
        args = [
          "run",
          "--server", "consul://ytcaption",
          "--engine", "whisper-cpp",
          "--whisper-model", "local/models/ggml.bin",
          "--concurrency", "${var.concurrency}",
          "--labels", "gpu=nvidia,pool=gpu",
          # SIGTERM: finish running tasks (or hand them back) within the grace.
          "--grace", "10m",
        ]
      }

      # Nomad logs in to Vault with this workload identity (JWT auth role
      # ytcaption-agent) and renders the enrollment token below.
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

      # Longer than --grace: a stopped agent finishes or hands back its
      # tasks before Nomad kills it.
      kill_timeout = "11m"
      kill_signal  = "SIGTERM"

      resources {
        cpu    = 4000
        memory = 8192

        device "nvidia/gpu" {
          count = 1

          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = var.gpu_min_memory
          }
        }
      }
    }
  }
}
