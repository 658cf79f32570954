variable "bucket" {
  type    = string
  default = "ytcaption"
}

variable "media_prefix" {
  type        = string
  description = "Key prefix of transient media objects."
  default     = "media"
}

variable "media_retention_days" {
  type    = number
  default = 7
}

variable "user" {
  type    = string
  default = "ytcaption"
}
