# Nomad client agent for GPU machines: joins the "gpu" node pool and
# fingerprints NVIDIA GPUs through the NVIDIA device plugin
# (nomad-device-nvidia, installed in plugin_dir). Install at
# /etc/nomad.d/client.hcl on GPU boxes.

datacenter = "dc1"
region     = "global"
data_dir   = "/opt/nomad/data"
bind_addr  = "0.0.0.0"
plugin_dir = "/opt/nomad/plugins"

client {
  enabled    = true
  node_pool  = "gpu"
  node_class = "gpu"

  server_join {
    retry_join = ["provider=consul"]
  }

  meta {
    ytcaption_role = "gpu"
  }
}

acl {
  enabled = true
}

tls {
  http = true
  rpc  = true

  ca_file   = "/etc/nomad.d/tls/nomad-agent-ca.pem"
  cert_file = "/etc/nomad.d/tls/global-client-nomad.pem"
  key_file  = "/etc/nomad.d/tls/global-client-nomad-key.pem"

  verify_server_hostname = true
  verify_https_client    = false
}

consul {
  address = "127.0.0.1:8501"
  ssl     = true
  ca_file = "/etc/consul.d/tls/consul-agent-ca.pem"
}

vault {
  enabled = true
  address = "https://vault.service.consul:8200"
}

plugin "nomad-device-nvidia" {
  config {
    enabled            = true
    fingerprint_period = "1m"
  }
}

plugin "exec" {
  config {
    allow_caps = ["chown", "dac_override", "fowner", "fsetid", "kill", "net_bind_service", "setgid", "setuid"]
  }
}
