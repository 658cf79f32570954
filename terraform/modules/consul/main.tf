terraform {
  required_version = ">= 1.6"

  required_providers {
    consul = {
      source  = "hashicorp/consul"
      version = "~> 2.21"
    }
  }
}

resource "consul_acl_policy" "control_plane" {
  name        = "ytcaption-control-plane"
  description = "Register the ytcaption service and its checks"
  rules       = file("${var.policies_dir}/ytcaption-control-plane.hcl")
}

resource "consul_acl_policy" "agent" {
  name        = "ytcaption-agent"
  description = "Read the healthy ytcaption replicas"
  rules       = file("${var.policies_dir}/ytcaption-agent.hcl")
}

resource "consul_acl_role" "agent" {
  name     = "ytcaption-agent"
  policies = [consul_acl_policy.agent.id]
}

# Tokens for machines outside Nomad (systemd installs).
resource "consul_acl_token" "control_plane" {
  description = "ytcaption control-plane replicas outside Nomad"
  policies    = [consul_acl_policy.control_plane.name]
}

resource "consul_acl_token" "agent" {
  description = "ytcaption agents outside Nomad"
  roles       = [consul_acl_role.agent.name]
}

# Nomad workload identities log in to Consul through this JWT auth method:
# services get a service identity, agent tasks the ytcaption-agent role.
resource "consul_acl_auth_method" "nomad" {
  name          = "nomad-workloads"
  type          = "jwt"
  display_name  = "Nomad workload identities"
  max_token_ttl = "1h"
  config_json = jsonencode({
    JWKSURL          = "${var.nomad_addr}/.well-known/jwks.json"
    JWKSCACert       = var.nomad_ca_pem
    JWTSupportedAlgs = ["RS256", "EdDSA"]
    BoundAudiences   = ["consul.io"]
    ClaimMappings = {
      nomad_namespace = "nomad_namespace"
      nomad_job_id    = "nomad_job_id"
      nomad_task      = "nomad_task"
      nomad_service   = "nomad_service"
    }
  })
}

resource "consul_acl_binding_rule" "services" {
  auth_method = consul_acl_auth_method.nomad.name
  description = "Nomad services register as themselves"
  bind_type   = "service"
  bind_name   = "$${value.nomad_service}"
  selector    = "\"nomad_service\" in value"
}

resource "consul_acl_binding_rule" "agents" {
  auth_method = consul_acl_auth_method.nomad.name
  description = "ytcaption agent tasks read the catalog"
  bind_type   = "role"
  bind_name   = consul_acl_role.agent.name
  selector    = "value.nomad_job_id in [\"ytcaption-agent-gpu\", \"ytcaption-agent-cpu\"]"
}
