# Consul ACL policy for agents: read the healthy instances of the
# control-plane service (health endpoint, blocking queries). No writes.

service "ytcaption" {
  policy = "read"
}

node_prefix "" {
  policy = "read"
}
