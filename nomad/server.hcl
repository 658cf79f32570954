# Nomad server agent for a ytcaption cluster (three per region).
# Install at /etc/nomad.d/server.hcl; TLS material from your CA (see
# docs/deployment.md, "Bootstrap").

datacenter = "dc1"
region     = "global"
data_dir   = "/opt/nomad/data"
bind_addr  = "0.0.0.0"

server {
  enabled          = true
  bootstrap_expect = 3

  # Join the other servers through Consul.
  server_join {
    retry_join = ["provider=consul"]
  }
}

acl {
  enabled = true
}

tls {
  http = true
  rpc  = true

  ca_file   = "/etc/nomad.d/tls/nomad-agent-ca.pem"
  cert_file = "/etc/nomad.d/tls/global-server-nomad.pem"
  key_file  = "/etc/nomad.d/tls/global-server-nomad-key.pem"

  verify_server_hostname = true
  verify_https_client    = false
}

# Consul: the servers register themselves and hand workload identities
# (audience consul.io) to jobs, which Consul's JWT auth method exchanges for
# ACL tokens (see terraform/consul).
consul {
  address = "127.0.0.1:8501"
  ssl     = true
  ca_file = "/etc/consul.d/tls/consul-agent-ca.pem"

  service_identity {
    aud = ["consul.io"]
    ttl = "1h"
  }

  task_identity {
    aud = ["consul.io"]
    ttl = "1h"
  }
}

# Vault: tasks with a vault block get a workload identity (audience
# vault.io) that Vault's jwt-nomad auth method exchanges for a token with the
# role's policies (see terraform/vault).
vault {
  enabled = true
  address = "https://vault.service.consul:8200"

  default_identity {
    aud = ["vault.io"]
    ttl = "1h"
  }
}

telemetry {
  publish_allocation_metrics = true
  publish_node_metrics       = true
  prometheus_metrics         = true
}
