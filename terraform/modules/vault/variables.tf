variable "policies_dir" {
  type        = string
  description = "Directory holding the Vault policies (policies/vault in the repository)."
}

variable "nomad_addr" {
  type        = string
  description = "Nomad HTTP address whose /.well-known/jwks.json signs workload identities."
}

variable "nomad_namespace" {
  type        = string
  description = "Nomad namespace of the ytcaption jobs; the JWT roles accept identities from it only."
  default     = "default"
}

variable "nomad_ca_pem" {
  type        = string
  description = "CA certificate of Nomad's HTTPS endpoint; empty for a public CA."
  default     = ""
}

variable "kv_mount" {
  type    = string
  default = "secret"
}

variable "create_kv_mount" {
  type        = bool
  description = "Create the KV v2 mount (false when it exists already, as in dev servers)."
  default     = true
}

variable "enable_approle" {
  type    = bool
  default = true
}
