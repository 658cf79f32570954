output "jobs" {
  value = module.nomad.jobs
}

output "minio_access_key" {
  value = module.minio.access_key
}

output "minio_secret_key" {
  value     = module.minio.secret_key
  sensitive = true
}
