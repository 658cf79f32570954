variable "policies_dir" {
  type        = string
  description = "Directory holding the Consul ACL policies (policies/consul in the repository)."
}

variable "nomad_addr" {
  type        = string
  description = "Nomad HTTP address whose /.well-known/jwks.json signs workload identities."
}

variable "nomad_ca_pem" {
  type    = string
  default = ""
}
