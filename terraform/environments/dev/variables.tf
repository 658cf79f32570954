variable "nomad_addr" {
  type        = string
  description = "Nomad HTTP address; Vault also fetches the workload identity keys from it."
  default     = "http://127.0.0.1:4646"
}

variable "vault_addr" {
  type        = string
  description = "Vault (or OpenBao) address."
  default     = "http://127.0.0.1:8200"
}

variable "minio_server" {
  type        = string
  description = "host:port of MinIO."
  default     = "127.0.0.1:9000"
}

variable "minio_ssl" {
  type    = bool
  default = false
}

variable "bucket" {
  type    = string
  default = "ytcaption"
}

variable "minio_app_user" {
  type        = string
  description = "MinIO user the control plane uses, allowed only the bucket."
  default     = "ytcaption"
}

variable "release" {
  type    = string
  default = "0.1.0"
}

variable "artifact_url" {
  type        = string
  description = "Release tarball with bin/ytcaption and bin/ytcaption-agent, reachable from the Nomad client."
}

variable "cpu_agents_max" {
  type    = number
  default = 2
}

variable "database_url" {
  type        = string
  description = "PostgreSQL URL of the control plane; empty for its embedded SQLite."
  default     = ""
  sensitive   = true
}

variable "redis_url" {
  type      = string
  default   = ""
  sensitive = true
}

variable "admin_key" {
  type      = string
  sensitive = true
}

variable "enrollment_token" {
  type        = string
  description = "Agent enrollment token (ytcaption enrollment create), read by the agent jobs."
  sensitive   = true
}

variable "secrets_version" {
  type        = number
  description = "Raise it to write changed secret values to Vault."
  default     = 1
}
