output "control_plane_token_accessor" {
  description = "Read the secret with: consul acl token read -id <accessor>."
  value       = consul_acl_token.control_plane.id
}

output "agent_token_accessor" {
  value = consul_acl_token.agent.id
}

output "auth_method" {
  value = consul_acl_auth_method.nomad.name
}
