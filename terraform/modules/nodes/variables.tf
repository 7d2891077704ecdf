variable "name" {
  description = "Prefix of every resource's name."
  type        = string
}

variable "image" {
  description = "Name of the Glance image the nodes boot (Debian 12 or Ubuntu 24.04: what the Ansible roles support)."
  type        = string
}

variable "ssh_user" {
  description = "The image's default user, whom cloud-init gives the key."
  type        = string
}

variable "ssh_public_key" {
  description = "The admins' SSH public key (OpenSSH format)."
  type        = string
}

variable "control_plane_count" {
  description = "Control-plane nodes (etcd members)."
  type        = number
  validation {
    condition     = var.control_plane_count >= 1 && var.control_plane_count <= 9
    error_message = "control_plane_count must be 1 to 9 (addresses .10 to .18)."
  }
}

variable "worker_count" {
  description = "Worker nodes."
  type        = number
  validation {
    condition     = var.worker_count >= 0 && var.worker_count <= 100
    error_message = "worker_count must be 0 to 100 (addresses .20 to .119)."
  }
}

variable "control_plane_flavor" {
  description = "Flavor of the control-plane nodes."
  type        = string
}

variable "worker_flavor" {
  description = "Flavor of the workers."
  type        = string
}

variable "bastion_flavor" {
  description = "Flavor of the bastion."
  type        = string
}

variable "root_volume_size" {
  description = "Boot from a volume of this many GiB; 0 boots from the flavor's own disk."
  type        = number
}

variable "network_id" {
  description = "The cluster network."
  type        = string
}

variable "cidr" {
  description = "The cluster subnet's range: the machines' fixed addresses come from its lower half (bastion .5, control plane .10 on, workers .20 on)."
  type        = string
}

variable "subnet_id" {
  description = "The cluster subnet."
  type        = string
}

variable "external_network_name" {
  description = "The pool the bastion's floating IP comes from."
  type        = string
}

variable "security_groups" {
  description = "Security group ids: bastion, nodes, control_plane."
  type = object({
    bastion       = string
    nodes         = string
    control_plane = string
  })
}
