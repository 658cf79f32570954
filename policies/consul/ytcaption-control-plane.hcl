# Consul ACL policy for a control-plane replica: register (and deregister)
# its own service instance and its health check. Nomad-placed replicas get
# the equivalent through the Nomad workload identity binding rule.

service "ytcaption" {
  policy = "write"
}

node_prefix "" {
  policy = "read"
}

agent_prefix "" {
  policy = "read"
}
