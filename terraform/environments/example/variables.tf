variable "vault_addr" {
  type = string
}

variable "consul_addr" {
  type = string
}

variable "nomad_addr" {
  type = string
}

variable "datacenter" {
  type    = string
  default = "dc1"
}

variable "minio_server" {
  type        = string
  description = "host:port of MinIO."
}

variable "minio_ssl" {
  type    = bool
  default = true
}

variable "bucket" {
  type    = string
  default = "ytcaption"
}

variable "release" {
  type = string
}

variable "artifact_url" {
  type = string
}

variable "cpu_agents_min" {
  type    = number
  default = 1
}

variable "cpu_agents_max" {
  type    = number
  default = 10
}

variable "gpu_agents" {
  type    = bool
  default = true
}
