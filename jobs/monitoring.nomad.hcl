# ytcaption monitoring: Prometheus (with the rules of jobs/monitoring) and
# Grafana (with the dashboards of jobs/monitoring/dashboards).
#
#   nomad var put nomad/jobs/ytcaption-monitoring grafana_admin_password=...
#   nomad job run jobs/monitoring.nomad.hcl
#
# Prometheus finds the control-plane replicas through the Consul service
# `ytcaption` and scrapes them as the job `ytcaption` (the rules select that
# job). The rule and dashboard files come from this repository at
# var.monitoring_ref, so what runs is what `promtool test rules` tested.

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "monitoring_source" {
  type        = string
  description = "go-getter source of the jobs/monitoring directory (rules and dashboards)."
  default     = "git::https://github.com/ytcaption/ytcaption.git//jobs/monitoring"
}

variable "monitoring_ref" {
  type        = string
  description = "Git ref of the rules and dashboards to run."
  default     = "main"
}

variable "prometheus_version" {
  type    = string
  default = "2.53.4"
}

variable "grafana_version" {
  type    = string
  default = "11.6.1"
}

variable "retention" {
  type        = string
  description = "How long Prometheus keeps samples (the slowest SLO window is 30 days)."
  default     = "35d"
}

job "ytcaption-monitoring" {
  type        = "service"
  datacenters = var.datacenters
  node_pool   = "default"

  group "monitoring" {
    count = 1

    network {
      port "prometheus" {}
      port "grafana" {}
    }

    # Prometheus's TSDB survives restarts and moves with the allocation.
    ephemeral_disk {
      size    = 10240
      sticky  = true
      migrate = true
    }

    service {
      name     = "ytcaption-prometheus"
      port     = "prometheus"
      provider = "consul"

      check {
        type     = "http"
        path     = "/-/ready"
        interval = "10s"
        timeout  = "2s"
      }
    }

    service {
      name     = "ytcaption-grafana"
      port     = "grafana"
      provider = "consul"

      check {
        type     = "http"
        path     = "/api/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "prometheus" {
      driver = "exec"

      artifact {
        source      = "https://github.com/prometheus/prometheus/releases/download/v${var.prometheus_version}/prometheus-${var.prometheus_version}.linux-amd64.tar.gz"
        destination = "local/"
      }

      artifact {
        source      = "${var.monitoring_source}?ref=${var.monitoring_ref}"
        destination = "local/monitoring"
      }

      config {
        command = "local/prometheus-${var.prometheus_version}.linux-amd64/prometheus"
        args = [
          "--config.file=${NOMAD_TASK_DIR}/prometheus.yml",
          "--storage.tsdb.path=${NOMAD_ALLOC_DIR}/data/prometheus",
          "--storage.tsdb.retention.time=${var.retention}",
          "--web.listen-address=0.0.0.0:${NOMAD_PORT_prometheus}",
        ]
      }

      template {
        destination   = "local/prometheus.yml"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        data          = <<-EOT
        global:
          scrape_interval: 15s
          evaluation_interval: 15s
        rule_files:
          - {{ env "NOMAD_TASK_DIR" }}/monitoring/*.rules.yml
        scrape_configs:
          - job_name: ytcaption
            consul_sd_configs:
              - server: "{{ env "attr.unique.network.ip-address" }}:8500"
                services: ["ytcaption"]
            relabel_configs:
              - source_labels: [__meta_consul_node]
                target_label: node
          - job_name: prometheus
            static_configs:
              - targets: ["{{ env "NOMAD_ADDR_prometheus" }}"]
        EOT
      }

      resources {
        cpu    = 500
        memory = 1024
      }
    }

    task "grafana" {
      driver = "exec"

      artifact {
        source      = "https://dl.grafana.com/oss/release/grafana-${var.grafana_version}.linux-amd64.tar.gz"
        destination = "local/"
      }

      artifact {
        source      = "${var.monitoring_source}?ref=${var.monitoring_ref}"
        destination = "local/monitoring"
      }

      config {
        command = "local/grafana-v${var.grafana_version}/bin/grafana"
        args    = ["server", "--homepath", "local/grafana-v${var.grafana_version}", "--config", "local/grafana.ini"]
      }

      template {
        destination = "local/grafana.ini"
        data        = <<-EOT
        [server]
        http_port = {{ env "NOMAD_PORT_grafana" }}
        [paths]
        data = {{ env "NOMAD_ALLOC_DIR" }}/data/grafana
        provisioning = {{ env "NOMAD_TASK_DIR" }}/provisioning
        [analytics]
        reporting_enabled = false
        check_for_updates = false
        EOT
      }

      template {
        destination = "local/provisioning/datasources/prometheus.yml"
        data        = <<-EOT
        apiVersion: 1
        datasources:
          - name: Prometheus
            uid: prometheus
            type: prometheus
            access: proxy
            url: http://{{ env "NOMAD_ADDR_prometheus" }}
            isDefault: true
        EOT
      }

      template {
        destination = "local/provisioning/dashboards/ytcaption.yml"
        data        = <<-EOT
        apiVersion: 1
        providers:
          - name: ytcaption
            folder: ytcaption
            type: file
            allowUiUpdates: false
            options:
              path: {{ env "NOMAD_TASK_DIR" }}/monitoring/dashboards
        EOT
      }

      # The admin password is a Nomad variable this job's workload identity
      # may read; it reaches Grafana through the secrets directory.
      template {
        destination = "${NOMAD_SECRETS_DIR}/grafana.env"
        env         = true
        data        = <<-EOT
        {{ with nomadVar "nomad/jobs/ytcaption-monitoring" }}GF_SECURITY_ADMIN_PASSWORD={{ .grafana_admin_password }}{{ end }}
        EOT
      }

      resources {
        cpu    = 300
        memory = 512
      }
    }
  }
}
