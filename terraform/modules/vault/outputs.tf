output "control_plane_policy" {
  value = vault_policy.control_plane.name
}

output "agent_policy" {
  value = vault_policy.agent.name
}

output "jwt_auth_path" {
  value = vault_jwt_auth_backend.nomad.path
}

output "approle_role_name" {
  value = var.enable_approle ? vault_approle_auth_backend_role.control_plane[0].role_name : ""
}
