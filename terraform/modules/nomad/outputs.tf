output "jobs" {
  value = concat([nomad_job.control_plane.id, nomad_job.agent_cpu.id], [for j in nomad_job.agent_gpu : j.id])
}

output "gpu_node_pool" {
  value = nomad_node_pool.gpu.name
}
