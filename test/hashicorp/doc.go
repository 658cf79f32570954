// Package hashicorp tests the deployment on Nomad, Consul and Vault: the
// job specs, agent configs, ACL policies and Terraform modules parse, are
// formatted, and reference only what exists; and, when the binaries are on
// PATH, the control plane and agents run against real dev-mode servers
// (consul, vault or bao, nomad). See docs/hashicorp.md.
package hashicorp
