terraform {
  required_version = ">= 1.6"

  required_providers {
    vault = {
      source  = "hashicorp/vault"
      version = "~> 5.0"
    }
  }
}

# KV v2 mount holding secret/ytcaption (control plane) and
# secret/ytcaption-agent (agents). Secret values are written by operators
# (vault kv put), never by Terraform, so they stay out of the state.
resource "vault_mount" "kv" {
  count       = var.create_kv_mount ? 1 : 0
  path        = var.kv_mount
  type        = "kv"
  options     = { version = "2" }
  description = "ytcaption secrets (KV v2)"
}

resource "vault_policy" "control_plane" {
  name   = "ytcaption-control-plane"
  policy = file("${var.policies_dir}/ytcaption-control-plane.hcl")
}

resource "vault_policy" "agent" {
  name   = "ytcaption-agent"
  policy = file("${var.policies_dir}/ytcaption-agent.hcl")
}

resource "vault_policy" "operator" {
  name   = "ytcaption-operator"
  policy = file("${var.policies_dir}/ytcaption-operator.hcl")
}

# AppRole, for replicas run outside Nomad (systemd, containers).
resource "vault_auth_backend" "approle" {
  count = var.enable_approle ? 1 : 0
  type  = "approle"
  path  = "approle"
}

resource "vault_approle_auth_backend_role" "control_plane" {
  count          = var.enable_approle ? 1 : 0
  backend        = vault_auth_backend.approle[0].path
  role_name      = "ytcaption-control-plane"
  token_policies = [vault_policy.control_plane.name]
  token_ttl      = 3600
  token_max_ttl  = 14400
  # Secret IDs are issued per machine by operators and used once at login.
  secret_id_ttl      = 86400
  secret_id_num_uses = 0
}

# JWT auth for Nomad workload identities: Nomad signs each task's identity,
# Vault checks it against Nomad's JWKS and issues a token with the role's
# policies. Roles bind the namespace as well as the job name, so a job of the
# same name in another namespace gets nothing.
resource "vault_jwt_auth_backend" "nomad" {
  path               = "jwt-nomad"
  type               = "jwt"
  jwks_url           = "${var.nomad_addr}/.well-known/jwks.json"
  jwks_ca_pem        = var.nomad_ca_pem
  jwt_supported_algs = ["RS256", "EdDSA"]
  default_role       = "ytcaption-agent"
}

resource "vault_jwt_auth_backend_role" "control_plane" {
  backend                 = vault_jwt_auth_backend.nomad.path
  role_name               = "ytcaption-control-plane"
  role_type               = "jwt"
  bound_audiences         = ["vault.io"]
  bound_claims            = { nomad_namespace = var.nomad_namespace, nomad_job_id = "ytcaption" }
  user_claim              = "/nomad_job_id"
  user_claim_json_pointer = true
  claim_mappings = {
    nomad_namespace = "nomad_namespace"
    nomad_job_id    = "nomad_job_id"
    nomad_task      = "nomad_task"
  }
  token_type     = "service"
  token_policies = [vault_policy.control_plane.name]
  token_period   = 1800
}

resource "vault_jwt_auth_backend_role" "agent" {
  backend                 = vault_jwt_auth_backend.nomad.path
  role_name               = "ytcaption-agent"
  role_type               = "jwt"
  bound_audiences         = ["vault.io"]
  bound_claims            = { nomad_namespace = var.nomad_namespace, nomad_job_id = "ytcaption-agent-gpu,ytcaption-agent-cpu" }
  user_claim              = "/nomad_job_id"
  user_claim_json_pointer = true
  claim_mappings = {
    nomad_namespace = "nomad_namespace"
    nomad_job_id    = "nomad_job_id"
    nomad_task      = "nomad_task"
  }
  token_type     = "service"
  token_policies = [vault_policy.agent.name]
  token_period   = 1800
}
