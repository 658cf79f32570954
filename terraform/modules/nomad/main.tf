terraform {
  required_version = ">= 1.6"

  required_providers {
    nomad = {
      source  = "hashicorp/nomad"
      version = "~> 2.5"
    }
  }
}

resource "nomad_node_pool" "gpu" {
  name        = "gpu"
  description = "GPU machines running ytcaption-agent-gpu"
}

resource "nomad_acl_policy" "control_plane" {
  name        = "ytcaption-control-plane"
  description = "Read nodes, drain nodes, scale the CPU agent job"
  rules_hcl   = file("${var.policies_dir}/ytcaption-control-plane.hcl")

  # Granted to the ytcaption job's workload identity.
  job_acl {
    namespace = var.namespace
    job_id    = "ytcaption"
  }
}

resource "nomad_acl_policy" "operator" {
  name        = "ytcaption-operator"
  description = "Run and upgrade ytcaption; drain nodes"
  rules_hcl   = file("${var.policies_dir}/ytcaption-operator.hcl")
}

resource "nomad_job" "control_plane" {
  jobspec          = file("${var.jobs_dir}/control-plane.nomad.hcl")
  purge_on_destroy = var.purge_on_destroy

  hcl2 {
    vars = {
      version       = var.release
      artifact_url  = var.artifact_url
      replicas      = var.replicas
      autoscale_min = var.cpu_agents_min
      autoscale_max = var.cpu_agents_max
    }
  }
}

resource "nomad_job" "agent_cpu" {
  jobspec          = file("${var.jobs_dir}/agent-cpu.nomad.hcl")
  purge_on_destroy = var.purge_on_destroy

  hcl2 {
    vars = {
      version      = var.release
      artifact_url = var.artifact_url
      min_agents   = var.cpu_agents_min
      max_agents   = var.cpu_agents_max
    }
  }
}

resource "nomad_job" "agent_gpu" {
  count            = var.gpu_agents ? 1 : 0
  jobspec          = file("${var.jobs_dir}/agent-gpu.nomad.hcl")
  purge_on_destroy = var.purge_on_destroy

  hcl2 {
    vars = {
      version      = var.release
      artifact_url = var.artifact_url
    }
  }

  depends_on = [nomad_node_pool.gpu]
}
