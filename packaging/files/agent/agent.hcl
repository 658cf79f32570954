# ytcaption-agent configuration (HCL). Flags and YTCAPTION_AGENT_* variables
# override what is set here. See /usr/share/doc/ytcaption-agent or docs/deployment.md.
# server = "https://ytcaption.example.com"   # the control plane
# token  = "yte_…"                          # enrollment token from `ytcaption agents enroll`
# name   = "gpu-01"                          # default: the hostname
state_dir = "/var/lib/ytcaption-agent"
work_dir  = "/var/cache/ytcaption-agent"
# concurrency = 1
# labels = { zone = "eu-1" }
# roles  = ["prepare", "transcribe"]
