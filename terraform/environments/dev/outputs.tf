output "jobs" {
  value = module.nomad.jobs
}

output "gpu_node_pool" {
  value = module.nomad.gpu_node_pool
}

output "vault_policies" {
  value = [module.vault.control_plane_policy, module.vault.agent_policy]
}

output "vault_jwt_auth_path" {
  value = module.vault.jwt_auth_path
}

output "vault_secrets" {
  value = [vault_kv_secret_v2.control_plane.path, vault_kv_secret_v2.agent.path]
}

output "bucket" {
  value = module.minio.bucket
}

output "minio_access_key" {
  value = module.minio.access_key
}

output "minio_secret_key" {
  value     = module.minio.secret_key
  sensitive = true
}
