# Nomad ACL policy for the control plane: read nodes (fleet view), drain
# nodes (node write), and scale the CPU agent job (scale-job on its
# namespace; the job itself is only read). Bound to the ytcaption job's
# workload identity: nomad acl policy apply -namespace default -job ytcaption.

namespace "default" {
  capabilities = ["read-job", "scale-job", "list-scaling-policies", "read-scaling-policy", "read-job-scaling"]
}

node {
  policy = "write"
}
