variable "policies_dir" {
  type        = string
  description = "Directory holding the Nomad ACL policies (policies/nomad in the repository)."
}

variable "jobs_dir" {
  type        = string
  description = "Directory holding the job specs (jobs/ in the repository)."
}

variable "namespace" {
  type    = string
  default = "default"
}

variable "release" {
  type        = string
  description = "ytcaption version to run."
}

variable "artifact_url" {
  type        = string
  description = "Release tarball with bin/ytcaption and bin/ytcaption-agent."
}

variable "replicas" {
  type    = number
  default = 3
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
  type        = bool
  description = "Run the GPU agent system job."
  default     = true
}

variable "purge_on_destroy" {
  type        = bool
  description = "Purge the jobs on destroy instead of only stopping them (their history is then gone at once)."
  default     = false
}
