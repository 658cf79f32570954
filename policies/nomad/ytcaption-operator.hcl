# Nomad ACL policy for ytcaption operators: run and upgrade the ytcaption
# jobs, read and drain nodes, read the cluster.

namespace "default" {
  policy       = "write"
  capabilities = ["alloc-node-exec"]
}

node {
  policy = "write"
}

agent {
  policy = "read"
}

operator {
  policy = "read"
}

node_pool "*" {
  policy = "read"
}

plugin {
  policy = "read"
}
